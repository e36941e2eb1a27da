# metricsd/sources.mk — the metricsd daemon (included by Makefile.am).
metricsd_metricsd_SOURCES = \
	metricsd/main.cc \
	metricsd/metrics_server.cc metricsd/metrics_server.h
metricsd_metricsd_LDADD = $(POSTERN_LIBS)
