# qmgr/sources.mk — the qmgr daemon (included by Makefile.am).
qmgr_qmgr_SOURCES = \
	qmgr/delivery.cc qmgr/delivery.h \
	qmgr/main.cc \
	qmgr/notification.cc qmgr/notification.h \
	qmgr/queue_control.cc qmgr/queue_control.h \
	qmgr/queue_manager.cc qmgr/queue_manager.h \
	qmgr/queue_server.cc qmgr/queue_server.h \
	qmgr/relay_connection.cc qmgr/relay_connection.h \
	qmgr/relay_delivery.cc qmgr/relay_delivery.h
qmgr_qmgr_LDADD = $(POSTERN_LIBS) -lpthread
