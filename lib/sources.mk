# lib/sources.mk — lib/libpostern.a, one section per area (included by Makefile.am).
# Debian's ar makes deterministic archives; the default "cru" only warns.
ARFLAGS = cr
noinst_LIBRARIES = lib/libpostern.a
lib_libpostern_a_SOURCES =
# base: status, clock, log, files, privileges, daemon support
lib_libpostern_a_SOURCES += \
	lib/base/ascii.h \
	lib/base/backoff.h \
	lib/base/clock.h \
	lib/base/daemon_main.cc lib/base/daemon_main.h \
	lib/base/daemon_options.cc lib/base/daemon_options.h \
	lib/base/daemon_support.cc lib/base/daemon_support.h \
	lib/base/descriptor_budget.cc lib/base/descriptor_budget.h \
	lib/base/file_system.cc lib/base/file_system.h \
	lib/base/log.cc lib/base/log.h \
	lib/base/log_format.cc lib/base/log_format.h \
	lib/base/pid_file.cc lib/base/pid_file.h \
	lib/base/privileges.cc lib/base/privileges.h \
	lib/base/prometheus_text.cc lib/base/prometheus_text.h \
	lib/base/random.h \
	lib/base/printable.cc lib/base/printable.h \
	lib/base/process_id.cc lib/base/process_id.h \
	lib/base/status.h \
	lib/base/syslog_socket.cc lib/base/syslog_socket.h \
	lib/base/version.h
# net: sockets, DNS, libevent handles, HTTP request heads
lib_libpostern_a_SOURCES += \
	lib/net/client_refusal.cc lib/net/client_refusal.h \
	lib/net/client_stream.cc lib/net/client_stream.h \
	lib/net/dns_message.cc lib/net/dns_message.h \
	lib/net/dns_resolver.cc lib/net/dns_resolver.h \
	lib/net/event_handles.h \
	lib/net/http_request.cc lib/net/http_request.h \
	lib/net/mx_lookup.cc lib/net/mx_lookup.h \
	lib/net/network.cc lib/net/network.h \
	lib/net/socket_acceptor.cc lib/net/socket_acceptor.h \
	lib/net/tcp_listener.cc lib/net/tcp_listener.h \
	lib/net/unix_socket.cc lib/net/unix_socket.h
# ipc: frames between the daemons
lib_libpostern_a_SOURCES += \
	lib/ipc/datagram_channel.cc lib/ipc/datagram_channel.h \
	lib/ipc/frame.cc lib/ipc/frame.h \
	lib/ipc/framed_server.cc lib/ipc/framed_server.h \
	lib/ipc/messages_auth.cc lib/ipc/messages_auth.h \
	lib/ipc/messages_control.cc lib/ipc/messages_control.h \
	lib/ipc/messages_queue.cc lib/ipc/messages_queue.h \
	lib/ipc/messages_worker.cc lib/ipc/messages_worker.h \
	lib/ipc/payload.cc lib/ipc/payload.h \
	lib/ipc/status_report.cc lib/ipc/status_report.h
# config: postern.conf, its key table and man page
lib_libpostern_a_SOURCES += \
	lib/config/config.cc lib/config/config.h \
	lib/config/config_keys.cc lib/config/config_keys.h \
	lib/config/config_man.cc lib/config/config_man.h \
	lib/config/config_rules.cc lib/config/config_rules.h \
	lib/config/install_dirs.cc lib/config/install_dirs.h \
	lib/config/listener_files.cc lib/config/listener_files.h \
	lib/config/relay_password.cc lib/config/relay_password.h \
	lib/config/text_lines.cc lib/config/text_lines.h
# smtp: the protocol: commands, replies, the server and client sessions
lib_libpostern_a_SOURCES += \
	lib/smtp/auth_dialog.cc lib/smtp/auth_dialog.h \
	lib/smtp/base64.cc lib/smtp/base64.h \
	lib/smtp/client_session.cc lib/smtp/client_session.h \
	lib/smtp/destination_lookup.cc lib/smtp/destination_lookup.h \
	lib/smtp/destination_plan.cc lib/smtp/destination_plan.h \
	lib/smtp/ehlo_offer.cc lib/smtp/ehlo_offer.h \
	lib/smtp/local_recipients.cc lib/smtp/local_recipients.h \
	lib/smtp/line_breaks.h \
	lib/smtp/message_reader.cc lib/smtp/message_reader.h \
	lib/smtp/message_stream.cc lib/smtp/message_stream.h \
	lib/smtp/next_hop.cc lib/smtp/next_hop.h \
	lib/smtp/peer_extensions.cc lib/smtp/peer_extensions.h \
	lib/smtp/received_header.cc lib/smtp/received_header.h \
	lib/smtp/relay_tls.h \
	lib/smtp/reply_catalogue.cc lib/smtp/reply_catalogue.h \
	lib/smtp/reply_parser.cc lib/smtp/reply_parser.h \
	lib/smtp/sender_login.cc lib/smtp/sender_login.h \
	lib/smtp/server_session.cc lib/smtp/server_session.h \
	lib/smtp/session_log.cc lib/smtp/session_log.h \
	lib/smtp/smtp_address.cc lib/smtp/smtp_address.h \
	lib/smtp/smtp_command.cc lib/smtp/smtp_command.h \
	lib/smtp/tally_frames.cc lib/smtp/tally_frames.h \
	lib/smtp/xtext.cc lib/smtp/xtext.h
# policy: who may connect and send, and how much
lib_libpostern_a_SOURCES += \
	lib/policy/connection_admission.cc lib/policy/connection_admission.h \
	lib/policy/ip_blocks.cc lib/policy/ip_blocks.h \
	lib/policy/minute_tally.cc lib/policy/minute_tally.h \
	lib/policy/traffic_counters.cc lib/policy/traffic_counters.h \
	lib/policy/rate_limiter.cc lib/policy/rate_limiter.h \
	lib/policy/resource_check.cc lib/policy/resource_check.h
# tls: GnuTLS credentials and sessions
lib_libpostern_a_SOURCES += \
	lib/tls/tls_channel.cc lib/tls/tls_channel.h \
	lib/tls/tls_client_session.cc lib/tls/tls_client_session.h \
	lib/tls/tls_credentials.cc lib/tls/tls_credentials.h \
	lib/tls/tls_resumption_cache.cc lib/tls/tls_resumption_cache.h \
	lib/tls/tls_session.cc lib/tls/tls_session.h
# sasl: Cyrus SASL, users, logon lockout
lib_libpostern_a_SOURCES += \
	lib/sasl/auth_realm.cc lib/sasl/auth_realm.h \
	lib/sasl/logon_lockout.cc lib/sasl/logon_lockout.h \
	lib/sasl/recipient_directory.cc lib/sasl/recipient_directory.h \
	lib/sasl/sasl_client.cc lib/sasl/sasl_client.h \
	lib/sasl/sasl_server.cc lib/sasl/sasl_server.h \
	lib/sasl/sasl_users.cc lib/sasl/sasl_users.h
# queue: the LMDB queue, envelopes, Maildir, retries
lib_libpostern_a_SOURCES += \
	lib/queue/delivery_log.cc lib/queue/delivery_log.h \
	lib/queue/delivery_schedule.cc lib/queue/delivery_schedule.h \
	lib/queue/disk_floor.cc lib/queue/disk_floor.h \
	lib/queue/dsn_report.cc lib/queue/dsn_report.h \
	lib/queue/envelope.cc lib/queue/envelope.h \
	lib/queue/maildir.cc lib/queue/maildir.h \
	lib/queue/queue_id.cc lib/queue/queue_id.h \
	lib/queue/queue_listing.cc lib/queue/queue_listing.h \
	lib/queue/queue_metrics.cc lib/queue/queue_metrics.h \
	lib/queue/queue_store.cc lib/queue/queue_store.h
