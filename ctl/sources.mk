# ctl/sources.mk — the `postern` control CLI (included by Makefile.am).
ctl_postern_SOURCES = \
	ctl/cli.h ctl/cli_support.cc \
	ctl/config_verbs.cc \
	ctl/control_client.cc ctl/control_client.h \
	ctl/daemon_verbs.cc \
	ctl/main.cc \
	ctl/master_process.cc ctl/master_process.h \
	ctl/password_input.cc ctl/password_input.h \
	ctl/queue_verbs.cc \
	ctl/user_verbs.cc
ctl_postern_LDADD = $(POSTERN_LIBS)
