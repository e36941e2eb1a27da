# auth/sources.mk — the authd daemon (included by Makefile.am).
auth_authd_SOURCES = \
	auth/auth_server.cc auth/auth_server.h \
	auth/main.cc
auth_authd_LDADD = $(POSTERN_LIBS)
