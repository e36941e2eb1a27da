# tests/tests.mk — unit tests, system tests and fuzz-corpus regression runs.

check_PROGRAMS = tests/unit_tests
tests_unit_tests_SOURCES = tests/unit_main.cc
# lib/base
tests_unit_tests_SOURCES += \
	tests/lib/base/backoff_test.cc \
	tests/lib/base/daemon_options_test.cc \
	tests/lib/base/descriptor_budget_test.cc \
	tests/lib/base/faulty_file_system.h \
	tests/lib/base/temp_dir.h \
	tests/lib/base/file_system_test.cc \
	tests/lib/base/log_format_test.cc \
	tests/lib/base/printable_test.cc \
	tests/lib/base/prometheus_text_test.cc \
	tests/lib/base/syslog_socket_test.cc
# lib/net
tests_unit_tests_SOURCES += \
	tests/lib/net/client_stream_test.cc \
	tests/lib/net/dns_message_test.cc \
	tests/lib/net/fake_dns_server.h \
	tests/lib/net/http_request_test.cc \
	tests/lib/net/mx_lookup_test.cc \
	tests/lib/net/network_test.cc \
	tests/lib/net/tcp_listener_test.cc \
	tests/lib/net/unix_socket_test.cc
# lib/ipc
tests_unit_tests_SOURCES += \
	tests/lib/ipc/datagram_channel_test.cc \
	tests/lib/ipc/frame_test.cc \
	tests/lib/ipc/framed_server_test.cc \
	tests/lib/ipc/messages_test.cc \
	tests/lib/ipc/payload_test.cc \
	tests/lib/ipc/status_report_test.cc
# lib/config
tests_unit_tests_SOURCES += \
	tests/lib/config/config_rules_test.cc \
	tests/lib/config/config_test.cc \
	tests/lib/config/relay_password_test.cc \
	tests/lib/config/text_lines_test.cc
# lib/smtp
tests_unit_tests_SOURCES += \
	tests/lib/smtp/auth_dialog_test.cc \
	tests/lib/smtp/base64_test.cc \
	tests/lib/smtp/client_harness.h \
	tests/lib/smtp/client_session_test.cc \
	tests/lib/smtp/client_session_transaction_test.cc \
	tests/lib/smtp/destination_lookup_test.cc \
	tests/lib/smtp/destination_plan_test.cc \
	tests/lib/smtp/ehlo_offer_test.cc \
	tests/lib/smtp/local_recipients_test.cc \
	tests/lib/smtp/line_breaks_test.cc \
	tests/lib/smtp/message_reader_test.cc \
	tests/lib/smtp/message_stream_test.cc \
	tests/lib/smtp/next_hop_test.cc \
	tests/lib/smtp/peer_extensions_test.cc \
	tests/lib/smtp/received_header_test.cc \
	tests/lib/smtp/reply_catalogue_test.cc \
	tests/lib/smtp/reply_parser_test.cc \
	tests/lib/smtp/sender_login_test.cc \
	tests/lib/smtp/server_session_ack_delay_test.cc \
	tests/lib/smtp/server_session_log_test.cc \
	tests/lib/smtp/server_session_pipelining_off_test.cc \
	tests/lib/smtp/server_session_recipient_check_test.cc \
	tests/lib/smtp/server_session_tally_test.cc \
	tests/lib/smtp/server_session_test.cc \
	tests/lib/smtp/server_session_tls_auth_test.cc \
	tests/lib/smtp/session_harness.h \
	tests/lib/smtp/session_log_test.cc \
	tests/lib/smtp/smtp_address_test.cc \
	tests/lib/smtp/smtp_command_test.cc
# lib/policy
tests_unit_tests_SOURCES += \
	tests/lib/policy/connection_admission_test.cc \
	tests/lib/policy/ip_blocks_test.cc \
	tests/lib/policy/minute_tally_test.cc \
	tests/lib/policy/traffic_counters_test.cc \
	tests/lib/policy/rate_limiter_test.cc \
	tests/lib/policy/resource_check_test.cc
# lib/tls
tests_unit_tests_SOURCES += \
	tests/lib/tls/tls_certificate_choice_test.cc \
	tests/lib/tls/tls_client_session_test.cc \
	tests/lib/tls/tls_resumption_cache_test.cc \
	tests/lib/tls/tls_session_test.cc \
	tests/lib/tls/tls_test_support.cc \
	tests/lib/tls/tls_test_support.h
# lib/sasl
tests_unit_tests_SOURCES += \
	tests/lib/sasl/auth_realm_test.cc \
	tests/lib/sasl/logon_lockout_test.cc \
	tests/lib/sasl/recipient_directory_test.cc \
	tests/lib/sasl/sasl_client_test.cc \
	tests/lib/sasl/sasl_server_test.cc \
	tests/lib/sasl/sasl_users_test.cc
# lib/queue
tests_unit_tests_SOURCES += \
	tests/lib/queue/delivery_log_test.cc \
	tests/lib/queue/delivery_schedule_test.cc \
	tests/lib/queue/disk_floor_test.cc \
	tests/lib/queue/dsn_report_test.cc \
	tests/lib/queue/envelope_test.cc \
	tests/lib/queue/maildir_test.cc \
	tests/lib/queue/queue_id_test.cc \
	tests/lib/queue/queue_listing_test.cc \
	tests/lib/queue/queue_metrics_test.cc \
	tests/lib/queue/queue_store_test.cc
# smtpd: AuthClient against a fake authd and QueueClient against a fake qmgr,
# each on a socketpair; a worker against a fake master
tests_unit_tests_SOURCES += tests/smtpd/auth_client_test.cc tests/smtpd/queue_client_test.cc \
	tests/smtpd/worker_test.cc \
	smtpd/auth_client.cc smtpd/client_lookups.cc smtpd/queue_client.cc smtpd/service_connection.cc \
	smtpd/session_driver.cc smtpd/worker.cc
# master: the worker pool against a fake worker
tests_unit_tests_SOURCES += tests/master/worker_pool_test.cc \
	master/worker_pool.cc
# qmgr: the queue manager against a store that fails on demand and a FakeClock;
# the relay keys as the client session's settings
tests_unit_tests_SOURCES += tests/qmgr/queue_manager_test.cc tests/qmgr/relay_settings_test.cc \
	qmgr/delivery.cc qmgr/notification.cc qmgr/queue_manager.cc qmgr/relay_connection.cc \
	qmgr/relay_delivery.cc
tests_unit_tests_LDADD = $(POSTERN_LIBS) $(BOOST_TEST_LIBS) -lpthread

# The fuzz targets, linked with a small driver that replays their seed
# corpora, so every `make check` re-runs what the fuzzers once found.
check_PROGRAMS += tests/fuzz/command_parser_replay tests/fuzz/server_session_replay \
	tests/fuzz/ipc_decoder_replay tests/fuzz/dns_message_replay
tests_fuzz_command_parser_replay_SOURCES = tests/fuzz/command_parser_fuzzer.cc \
	tests/fuzz/replay_main.cc
tests_fuzz_command_parser_replay_LDADD = $(POSTERN_LIBS)
tests_fuzz_server_session_replay_SOURCES = tests/fuzz/server_session_fuzzer.cc \
	tests/fuzz/replay_main.cc
tests_fuzz_server_session_replay_LDADD = $(POSTERN_LIBS)
tests_fuzz_ipc_decoder_replay_SOURCES = tests/fuzz/ipc_decoder_fuzzer.cc \
	tests/fuzz/replay_main.cc
tests_fuzz_ipc_decoder_replay_LDADD = $(POSTERN_LIBS)
tests_fuzz_dns_message_replay_SOURCES = tests/fuzz/dns_message_fuzzer.cc \
	tests/fuzz/replay_main.cc
tests_fuzz_dns_message_replay_LDADD = $(POSTERN_LIBS)

# The load client of tests/bench/run-submission-bench and run-scale-bench: C and
# GnuTLS only, one process driving many sessions (built by make, installed nowhere).
noinst_PROGRAMS = tests/bench/submit-load
tests_bench_submit_load_SOURCES = tests/bench/submit-load.c
tests_bench_submit_load_CFLAGS = $(WARN_FLAGS) $(GNUTLS_CFLAGS)
tests_bench_submit_load_LDADD = $(GNUTLS_LIBS)
# tests/bench by name, not as a folder: an in-tree build leaves submit-load there.
BENCH_FILES = tests/bench/README.md tests/bench/bench-lib.sh tests/bench/fake-postern \
	tests/bench/rss-sampler tests/bench/run-bench tests/bench/run-submission-bench \
	tests/bench/run-scale-bench tests/bench/scale-probe tests/bench/selftest

SYSTEM_TESTS = \
	tests/system/abuse_test.py \
	tests/system/ack_delay_test.py \
	tests/system/authd_test.py \
	tests/system/cli_test.py \
	tests/system/concurrency_test.py \
	tests/system/connection_events_test.py \
	tests/system/control_socket_test.py \
	tests/system/content_events_test.py \
	tests/system/crash_test.py \
	tests/system/delivery_test.py \
	tests/system/dialog_test.py \
	tests/system/dsn_test.py \
	tests/system/dns_privilege_test.py \
	tests/system/full_disk_test.py \
	tests/system/install_test.py \
	tests/system/interop_test.py \
	tests/system/ip_block_test.py \
	tests/system/lifecycle_test.py \
	tests/system/metricsd_test.py \
	tests/system/metrics_test.py \
	tests/system/mx_delivery_test.py \
	tests/system/out_of_resources_test.py \
	tests/system/postfix_next_hop_test.py \
	tests/system/postfix_relay_test.py \
	tests/system/privsep_test.py \
	tests/system/qmgr_socket_test.py \
	tests/system/queue_cli_test.py \
	tests/system/relay_peers_test.py \
	tests/system/relay_repairs_test.py \
	tests/system/relay_test.py \
	tests/system/reload_load_test.py \
	tests/system/reverse_lookup_test.py \
	tests/system/shared_bind_test.py \
	tests/system/rate_limit_test.py \
	tests/system/recipient_check_test.py \
	tests/system/session_options_test.py \
	tests/system/smtp_sink_relay_test.py \
	tests/system/server_connection_limit_test.py \
	tests/system/status_test.py \
	tests/system/supervision_test.py \
	tests/system/swaks_test.py \
	tests/system/syslog_test.py \
	tests/system/timer_events_test.py \
	tests/system/tls_plumbing_test.py \
	tests/system/tls_auth_test.py \
	tests/system/tls_ecdsa_test.py
FUZZ_REPLAYS = tests/fuzz/replay.sh
# The tree follows .clang-format (clang-format from ./install-deps).
FORMAT_CHECK = tests/format_check.sh

# Under --disable-system-tests (make distcheck) the system tests are only loaded.
SYSTEM_TESTS_LOADED = tests/system/imports_check.py
if SYSTEM_TESTS_RUN
TESTS = tests/unit_tests $(FUZZ_REPLAYS) $(FORMAT_CHECK) $(SYSTEM_TESTS)
else
TESTS = tests/unit_tests $(FUZZ_REPLAYS) $(FORMAT_CHECK) $(SYSTEM_TESTS_LOADED)
endif
TEST_EXTENSIONS = .py .sh
PY_LOG_COMPILER = $(PYTHON3)
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT = \
	POSTERN_SRCDIR='$(abs_top_srcdir)'; export POSTERN_SRCDIR; \
	POSTERN_BUILDDIR='$(abs_top_builddir)'; export POSTERN_BUILDDIR; \
	POSTERN='$(abs_top_builddir)/ctl/postern'; export POSTERN; \
	QMGR='$(abs_top_builddir)/qmgr/qmgr'; export QMGR; \
	AUTHD='$(abs_top_builddir)/auth/authd'; export AUTHD; \
	POSTERN_SYSCONFDIR='$(sysconfdir)'; export POSTERN_SYSCONFDIR; \
	POSTERN_LOCALSTATEDIR='$(localstatedir)'; export POSTERN_LOCALSTATEDIR; \
	POSTERN_RUNSTATEDIR='$(runstatedir)'; export POSTERN_RUNSTATEDIR; \
	POSTERN_LIBEXECDIR='$(libexecdir)'; export POSTERN_LIBEXECDIR; \
	POSTERN_SBINDIR='$(sbindir)'; export POSTERN_SBINDIR;

EXTRA_DIST = $(SYSTEM_TESTS) $(SYSTEM_TESTS_LOADED) $(FUZZ_REPLAYS) $(FORMAT_CHECK) .clang-format tests/system/postern_harness.py tests/system/postern_wire.py \
	tests/system/dialogs \
	tests/system/dns_responder.py \
	tests/system/next_hop.py \
	tests/system/postfix_instance.py \
	tests/system/recording_proxy.py \
	tests/fuzz/corpus tests/fuzz/run-fuzz $(BENCH_FILES) tests/soak install-deps run-dev run-tests .ci/run README.md
