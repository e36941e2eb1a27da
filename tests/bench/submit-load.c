/* tests/bench/submit-load.c — a TLS submission load client: many sessions from one process.
 *
 * Each session is what a mail client does to submit one message: connect, banner, EHLO,
 * STARTTLS, TLS handshake (GnuTLS, TLS 1.3 by default, no certificate check: loopback
 * only), EHLO, AUTH LOGIN, MAIL FROM, RCPT TO, DATA, the message, ".", QUIT. Every reply
 * code is checked; a session that gets another code, times out or loses its connection
 * fails, and failures are counted by step and reply. With --resume each of the
 * --concurrency lanes keeps the TLS session (the ticket) of its last session and offers
 * it on its next connection, as a client offers resumption to a server it knows;
 * without it every handshake is a full one.
 *
 * --idle N opens N sessions and holds them (for measuring the server's memory per idle
 * session), prints "idle_ready=..." once all are established or failed, and closes them
 * on SIGTERM/SIGINT or after --hold seconds. --idle-at says where a session stops: after
 * the TLS handshake (tls, the default), after the 220 banner (banner: a plaintext session
 * that has said nothing), or after the reply to EHLO (ehlo). --bind spreads the sessions
 * over a range of local IPv4 addresses (127.0.0.x on loopback), so that many thousands
 * to one server port do not run out of ephemeral ports.
 *
 * One thread, non-blocking sockets and epoll, so that the client costs little CPU per
 * session and is not what limits a benchmark. It prints one summary line of key=value
 * pairs on standard output, failures on standard error, and exits 1 when any session
 * failed (2 on a usage or set-up error). It connects only to the numeric address given.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ options */

/* Where an --idle session stops and is held: after the reply to that step. */
enum idle_point { kIdleAfterTls, kIdleAfterBanner, kIdleAfterEhlo };

struct options {
  const char *host;
  int port;
  int concurrency;
  long total;      /* sessions to run; 0 with a duration */
  double duration; /* seconds to keep starting sessions; 0 with a total */
  long size;
  const char *user;
  const char *password;
  const char *from;
  const char *to;
  const char *ehlo;
  const char *priority;
  bool resume;
  long idle; /* --idle N: hold N sessions at idle_at */
  enum idle_point idle_at;
  double hold;
  uint32_t bind_first, bind_count; /* --bind: source addresses (host order); 0: none */
  double timeout;
};

static struct options opt = {
    .host = "127.0.0.1",
    .concurrency = 10,
    .size = 1024,
    .user = "bench",
    .password = "bench-password",
    .from = "bench@bench.test",
    .to = "b@bench.test",
    .ehlo = "client.bench.test",
    .priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3",
    .hold = 3600,
    .timeout = 60,
};

static void usage(FILE *out) {
  fprintf(out,
          "Usage: submit-load -p PORT [options]\n"
          "  -H, --host ADDR        numeric server address (default 127.0.0.1)\n"
          "  -p, --port PORT        server port\n"
          "  -c, --concurrency N    sessions at once (default 10)\n"
          "  -n, --sessions N       sessions in all (default 1000 unless --duration)\n"
          "  -d, --duration S       start sessions for S seconds instead\n"
          "  -s, --size BYTES       message size, header included (default 1024)\n"
          "  -u, --user NAME        AUTH LOGIN user (default bench)\n"
          "  -w, --password TEXT    AUTH LOGIN password (default bench-password)\n"
          "  -f, --from ADDR        MAIL FROM address (default bench@bench.test)\n"
          "  -t, --to ADDR          RCPT TO address (default b@bench.test)\n"
          "  -r, --resume           offer each lane's last TLS session (ticket) again\n"
          "      --priority TEXT    GnuTLS priority (default %s)\n"
          "      --idle N           hold N sessions idle (see --idle-at)\n"
          "      --idle-at STEP     where idle sessions stop: tls (after the handshake,\n"
          "                         default), banner (after the 220) or ehlo (after EHLO)\n"
          "  -b, --bind FIRST[-LAST] bind each session to the next IPv4 address of\n"
          "                         FIRST..LAST in turn (e.g. 127.0.0.2-127.0.0.9)\n"
          "      --hold S           with --idle: close them after S seconds (default 3600)\n"
          "                         or on SIGTERM/SIGINT\n"
          "      --timeout S        longest one session may take (default 60)\n"
          "  -h, --help             this text\n"
          "Output: one line of key=value on standard output; exit 1 if a session failed.\n",
          opt.priority);
}

static void die(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("submit-load: ", stderr);
  vfprintf(stderr, format, args);
  fputc('\n', stderr);
  va_end(args);
  exit(2);
}

static long positive(const char *name, const char *text) {
  char *end;
  long value = strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value <= 0)
    die("%s wants a positive integer, not '%s'", name, text);
  return value;
}

static double seconds_arg(const char *name, const char *text) {
  char *end;
  double value = strtod(text, &end);
  if (*text == '\0' || *end != '\0' || !(value > 0))
    die("%s wants a positive number, not '%s'", name, text);
  return value;
}

static enum idle_point idle_step(const char *text) {
  if (strcmp(text, "tls") == 0) return kIdleAfterTls;
  if (strcmp(text, "banner") == 0) return kIdleAfterBanner;
  if (strcmp(text, "ehlo") == 0) return kIdleAfterEhlo;
  die("--idle-at wants tls, banner or ehlo, not '%s'", text);
  return kIdleAfterTls;
}

/* FIRST or FIRST-LAST, numeric IPv4 addresses, FIRST <= LAST. */
static void parse_bind(const char *text) {
  char first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN];
  const char *dash = strchr(text, '-');
  size_t first_len = dash ? (size_t)(dash - text) : strlen(text);
  const char *last_text = dash ? dash + 1 : text;
  struct in_addr a, b;
  if (first_len >= sizeof first || strlen(last_text) >= sizeof last)
    die("--bind wants FIRST[-LAST] IPv4 addresses, not '%s'", text);
  memcpy(first, text, first_len);
  first[first_len] = '\0';
  strcpy(last, last_text);
  if (inet_pton(AF_INET, first, &a) != 1 || inet_pton(AF_INET, last, &b) != 1 ||
      ntohl(b.s_addr) < ntohl(a.s_addr))
    die("--bind wants FIRST[-LAST] IPv4 addresses, FIRST <= LAST, not '%s'", text);
  opt.bind_first = ntohl(a.s_addr);
  opt.bind_count = ntohl(b.s_addr) - ntohl(a.s_addr) + 1;
}

static void parse_options(int argc, char **argv) {
  enum { kPriority = 256, kIdle, kIdleAt, kHold, kTimeout };
  static const struct option longs[] = {{"host", required_argument, 0, 'H'},
                                        {"port", required_argument, 0, 'p'},
                                        {"concurrency", required_argument, 0, 'c'},
                                        {"sessions", required_argument, 0, 'n'},
                                        {"duration", required_argument, 0, 'd'},
                                        {"size", required_argument, 0, 's'},
                                        {"user", required_argument, 0, 'u'},
                                        {"password", required_argument, 0, 'w'},
                                        {"from", required_argument, 0, 'f'},
                                        {"to", required_argument, 0, 't'},
                                        {"resume", no_argument, 0, 'r'},
                                        {"priority", required_argument, 0, kPriority},
                                        {"idle", required_argument, 0, kIdle},
                                        {"idle-at", required_argument, 0, kIdleAt},
                                        {"bind", required_argument, 0, 'b'},
                                        {"hold", required_argument, 0, kHold},
                                        {"timeout", required_argument, 0, kTimeout},
                                        {"help", no_argument, 0, 'h'},
                                        {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "H:p:c:n:d:s:u:w:f:t:b:rh", longs, NULL)) != -1) {
    switch (c) {
      case 'H':
        opt.host = optarg;
        break;
      case 'p':
        opt.port = (int)positive("--port", optarg);
        break;
      case 'c':
        opt.concurrency = (int)positive("--concurrency", optarg);
        break;
      case 'n':
        opt.total = positive("--sessions", optarg);
        break;
      case 'd':
        opt.duration = seconds_arg("--duration", optarg);
        break;
      case 's':
        opt.size = positive("--size", optarg);
        break;
      case 'u':
        opt.user = optarg;
        break;
      case 'w':
        opt.password = optarg;
        break;
      case 'f':
        opt.from = optarg;
        break;
      case 't':
        opt.to = optarg;
        break;
      case 'r':
        opt.resume = true;
        break;
      case kPriority:
        opt.priority = optarg;
        break;
      case kIdle:
        opt.idle = positive("--idle", optarg);
        break;
      case kIdleAt:
        opt.idle_at = idle_step(optarg);
        break;
      case 'b':
        parse_bind(optarg);
        break;
      case kHold:
        opt.hold = seconds_arg("--hold", optarg);
        break;
      case kTimeout:
        opt.timeout = seconds_arg("--timeout", optarg);
        break;
      case 'h':
        usage(stdout);
        exit(0);
      default:
        usage(stderr);
        exit(2);
    }
  }
  if (optind != argc) die("unexpected argument '%s'", argv[optind]);
  if (opt.port == 0 || opt.port > 65535) die("--port wants a port number (1 to 65535)");
  if (opt.total && opt.duration) die("--sessions and --duration exclude each other");
  if (opt.idle && (opt.total || opt.duration)) die("--idle excludes --sessions and --duration");
  if (opt.idle_at != kIdleAfterTls && !opt.idle) die("--idle-at goes with --idle");
  if (opt.idle) opt.total = opt.idle;
  if (!opt.total && !opt.duration) opt.total = 1000;
  if (opt.total && opt.concurrency > opt.total) opt.concurrency = (int)opt.total;
}

/* ------------------------------------------------------------------ steps */

/* The steps of a session in order; each after CONNECT sends its command (if any) and
 * expects the reply code of its row. */
enum step {
  kConnect,
  kBanner,
  kEhlo,
  kStarttls,
  kHandshake,
  kEhloTls,
  kAuth,
  kAuthUser,
  kAuthPassword,
  kMail,
  kRcpt,
  kData,
  kBody,
  kQuit,
  kIdle,
  kStepCount
};

static const struct {
  const char *name;
  int expect;
} steps[kStepCount] = {
    [kConnect] = {"connect", 0},
    [kBanner] = {"banner", 220},
    [kEhlo] = {"EHLO", 250},
    [kStarttls] = {"STARTTLS", 220},
    [kHandshake] = {"handshake", 0},
    [kEhloTls] = {"EHLO-TLS", 250},
    [kAuth] = {"AUTH", 334},
    [kAuthUser] = {"AUTH-user", 334},
    [kAuthPassword] = {"AUTH-password", 235},
    [kMail] = {"MAIL", 250},
    [kRcpt] = {"RCPT", 250},
    [kData] = {"DATA", 354},
    [kBody] = {"end-of-data", 250},
    [kQuit] = {"QUIT", 221},
    [kIdle] = {"idle", 0},
};

/* ------------------------------------------------------------------ state */

enum { kInSize = 4096, kCmdSize = 600, kMaxFailureKinds = 64 };

struct session {
  int fd;
  int lane; /* index into lanes[]: whose TLS session data it offers and keeps; -1 idle */
  struct session *next_idle, *prev_idle; /* in the idle list (--idle) */
  enum step step;
  gnutls_session_t tls; /* NULL before STARTTLS */
  uint32_t events;      /* epoll interest currently registered */
  double deadline;
  const char *out; /* bytes still to send */
  size_t out_len;
  size_t in_len;
  char in[kInSize];
  char cmd[kCmdSize];
};

struct lane {
  struct session *session; /* NULL between sessions */
  gnutls_datum_t resume;   /* TLS session data of its last session; size 0: none */
};

struct failure_kind {
  enum step step;
  char reply[160];
  long count;
};

static struct lane *lanes;
static int epoll_fd = -1;
static gnutls_certificate_credentials_t credentials;
static gnutls_priority_t priority;
static struct sockaddr_storage server;
static socklen_t server_len;
static char *message; /* the DATA content with its "." line */
static size_t message_len;
static char user64[512], password64[512];

static long started, ok, failed, running, handshakes_full, handshakes_resumed;
static long idle_held, idle_dropped;
static struct session *idle_list;
static double start_until; /* --duration: when to stop starting sessions */
static struct failure_kind failure_kinds[kMaxFailureKinds];
static int failure_kind_count;
static volatile sig_atomic_t stop_signal;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void base64(const char *text, char *out, size_t out_size) {
  static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t n = strlen(text), o = 0;
  if ((n + 2) / 3 * 4 + 1 > out_size) die("'%s' is too long for AUTH LOGIN", text);
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned char)text[i] << 16;
    if (i + 1 < n) v |= (unsigned char)text[i + 1] << 8;
    if (i + 2 < n) v |= (unsigned char)text[i + 2];
    out[o++] = digits[(v >> 18) & 63];
    out[o++] = digits[(v >> 12) & 63];
    out[o++] = i + 1 < n ? digits[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? digits[v & 63] : '=';
  }
  out[o] = '\0';
}

/* A message of about opt.size bytes: a short header, then 76-character lines of text
 * (none starts with a dot), then the end-of-data line. */
static void build_message(void) {
  static const char header_format[] =
      "From: <%s>\r\nTo: <%s>\r\nSubject: submit-load\r\nMessage-ID: <load@bench.test>\r\n\r\n";
  size_t cap = (size_t)opt.size + 1024;
  message = malloc(cap);
  if (!message) die("out of memory for a %ld-byte message", opt.size);
  int header = snprintf(message, cap, header_format, opt.from, opt.to);
  if (header < 0 || (size_t)header >= cap) die("addresses too long");
  size_t len = (size_t)header;
  while (len + 78 <= (size_t)opt.size) {
    memset(message + len, 'x', 76);
    memcpy(message + len + 76, "\r\n", 2);
    len += 78;
  }
  if (len + 3 <= (size_t)opt.size) { /* the rest as one shorter line */
    size_t rest = (size_t)opt.size - len - 2;
    memset(message + len, 'y', rest);
    memcpy(message + len + rest, "\r\n", 2);
    len += rest + 2;
  }
  memcpy(message + len, ".\r\n", 3);
  message_len = len + 3;
}

/* ------------------------------------------------------------------ failures */

static void count_failure(enum step step, const char *reply) {
  for (int i = 0; i < failure_kind_count; i++) {
    if (failure_kinds[i].step == step && strcmp(failure_kinds[i].reply, reply) == 0) {
      failure_kinds[i].count++;
      return;
    }
  }
  struct failure_kind *kind = &failure_kinds[kMaxFailureKinds - 1];
  if (failure_kind_count < kMaxFailureKinds)
    kind = &failure_kinds[failure_kind_count++];
  else
    reply = "(and other failures)"; /* the table is full: the last row sums the rest */
  kind->step = step;
  snprintf(kind->reply, sizeof kind->reply, "%s", reply);
  kind->count++;
}

static void print_failures(void) {
  for (int i = 0; i < failure_kind_count; i++)
    fprintf(stderr, "submit-load: failed %ld x at %s: %s\n", failure_kinds[i].count,
            steps[failure_kinds[i].step].name, failure_kinds[i].reply);
}

/* ------------------------------------------------------------------ one session */

static void set_events(struct session *s, uint32_t events) {
  if (s->events == events) return;
  struct epoll_event ev = {.events = events, .data.ptr = s};
  if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, s->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
  s->events = events;
}

/* Keeps the lane's TLS session data for its next connection: under TLS 1.3 once the
 * server's ticket has arrived (asking before would wait for one), at once under 1.2. */
static void keep_resumption_data(struct session *s) {
  if (!opt.resume || !s->tls) return;
  if (gnutls_protocol_get_version(s->tls) == GNUTLS_TLS1_3 &&
      !(gnutls_session_get_flags(s->tls) & GNUTLS_SFLAGS_SESSION_TICKET))
    return;
  gnutls_datum_t data;
  if (gnutls_session_get_data2(s->tls, &data) < 0) return;
  struct lane *lane = &lanes[s->lane];
  gnutls_free(lane->resume.data);
  lane->resume = data;
}

static void unlink_idle(struct session *s) {
  if (s->prev_idle)
    s->prev_idle->next_idle = s->next_idle;
  else
    idle_list = s->next_idle;
  if (s->next_idle) s->next_idle->prev_idle = s->prev_idle;
  idle_held--;
}

/* Ends a session; its lane is free for the next one (run() starts it). */
static void finish(struct session *s, bool success, const char *reason) {
  if (success) {
    ok++;
    keep_resumption_data(s);
  } else {
    failed++;
    count_failure(s->step, reason);
    if (s->step == kIdle) idle_dropped++;
  }
  if (s->step == kIdle) unlink_idle(s);
  if (s->tls) {
    if (success) gnutls_bye(s->tls, GNUTLS_SHUT_WR); /* close_notify, as clients send */
    gnutls_deinit(s->tls);
  }
  close(s->fd); /* also leaves the epoll set */
  if (s->lane >= 0) lanes[s->lane].session = NULL;
  free(s);
  running--;
}

static void fail_tls(struct session *s, const char *what, int rc) {
  char reason[160];
  snprintf(reason, sizeof reason, "%s: %s", what, gnutls_strerror(rc));
  finish(s, false, reason);
}

/* Sends what is pending. Returns false when the session ended (failed). */
static bool flush_out(struct session *s) {
  while (s->out_len) {
    ssize_t n;
    if (s->tls) {
      n = gnutls_record_send(s->tls, s->out, s->out_len);
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) break;
      if (n < 0) {
        fail_tls(s, "send", (int)n);
        return false;
      }
    } else {
      n = send(s->fd, s->out, s->out_len, MSG_NOSIGNAL);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (n < 0) {
        char reason[160];
        snprintf(reason, sizeof reason, "send: %s", strerror(errno));
        finish(s, false, reason);
        return false;
      }
    }
    s->out += n;
    s->out_len -= (size_t)n;
  }
  if (s->out_len)
    set_events(s, s->tls && !gnutls_record_get_direction(s->tls) ? EPOLLIN : EPOLLOUT);
  else
    set_events(s, EPOLLIN);
  return true;
}

static bool send_line(struct session *s, const char *format, ...) {
  va_list args;
  va_start(args, format);
  int n = vsnprintf(s->cmd, sizeof s->cmd - 2, format, args);
  va_end(args);
  if (n < 0 || (size_t)n >= sizeof s->cmd - 2) die("command too long");
  memcpy(s->cmd + n, "\r\n", 2);
  s->out = s->cmd;
  s->out_len = (size_t)n + 2;
  return flush_out(s);
}

static bool handshake(struct session *s);

/* Enters STEP and sends its command. Returns false when the session ended. */
static bool enter(struct session *s, enum step step) {
  s->step = step;
  switch (step) {
    case kEhlo:
    case kEhloTls:
      return send_line(s, "EHLO %s", opt.ehlo);
    case kStarttls:
      return send_line(s, "STARTTLS");
    case kAuth:
      return send_line(s, "AUTH LOGIN");
    case kAuthUser:
      return send_line(s, "%s", user64);
    case kAuthPassword:
      return send_line(s, "%s", password64);
    case kMail:
      return send_line(s, "MAIL FROM:<%s>", opt.from);
    case kRcpt:
      return send_line(s, "RCPT TO:<%s>", opt.to);
    case kData:
      return send_line(s, "DATA");
    case kBody:
      s->out = message;
      s->out_len = message_len;
      return flush_out(s);
    case kQuit:
      return send_line(s, "QUIT");
    case kHandshake:
      return handshake(s);
    case kIdle: /* held outside the lanes, which go on opening sessions */
      lanes[s->lane].session = NULL;
      s->lane = -1;
      s->next_idle = idle_list;
      if (idle_list) idle_list->prev_idle = s;
      idle_list = s;
      idle_held++;
      set_events(s, EPOLLIN);
      return true;
    case kConnect:
    case kBanner:
    case kStepCount:
      break;
  }
  set_events(s, EPOLLIN);
  return true;
}

static bool start_tls(struct session *s) {
  int rc = gnutls_init(&s->tls, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
  if (rc < 0) {
    s->tls = NULL;
    fail_tls(s, "gnutls_init", rc);
    return false;
  }
  if ((rc = gnutls_priority_set(s->tls, priority)) < 0 ||
      (rc = gnutls_credentials_set(s->tls, GNUTLS_CRD_CERTIFICATE, credentials)) < 0) {
    fail_tls(s, "TLS set-up", rc);
    return false;
  }
  struct lane *lane = &lanes[s->lane];
  if (opt.resume && lane->resume.size &&
      (rc = gnutls_session_set_data(s->tls, lane->resume.data, lane->resume.size)) < 0) {
    fail_tls(s, "gnutls_session_set_data", rc);
    return false;
  }
  gnutls_transport_set_int(s->tls, s->fd);
  s->in_len = 0; /* nothing sent in clear after the 220 may count (RFC 3207) */
  return enter(s, kHandshake);
}

static bool handshake(struct session *s) {
  int rc = gnutls_handshake(s->tls);
  if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
    set_events(s, gnutls_record_get_direction(s->tls) ? EPOLLOUT : EPOLLIN);
    return true;
  }
  if (rc < 0) {
    fail_tls(s, "handshake", rc);
    return false;
  }
  if (gnutls_session_is_resumed(s->tls))
    handshakes_resumed++;
  else
    handshakes_full++;
  return enter(s, opt.idle ? kIdle : kEhloTls);
}

/* A complete reply whose last line is LINE: checks its code and moves on. */
static bool on_reply(struct session *s, const char *line) {
  int code = atoi(line);
  if (code != steps[s->step].expect) {
    finish(s, false, line);
    return false;
  }
  switch (s->step) {
    case kBanner:
      return enter(s, opt.idle_at == kIdleAfterBanner ? kIdle : kEhlo);
    case kEhlo:
      return enter(s, opt.idle_at == kIdleAfterEhlo ? kIdle : kStarttls);
    case kStarttls:
      return start_tls(s);
    case kEhloTls:
      return enter(s, kAuth);
    case kAuth:
      return enter(s, kAuthUser);
    case kAuthUser:
      return enter(s, kAuthPassword);
    case kAuthPassword:
      return enter(s, kMail);
    case kMail:
      return enter(s, kRcpt);
    case kRcpt:
      return enter(s, kData);
    case kData:
      return enter(s, kBody);
    case kBody:
      return enter(s, kQuit);
    case kQuit:
      finish(s, true, NULL);
      return false;
    default:
      finish(s, false, "reply at an unexpected step");
      return false;
  }
}

/* Takes complete lines out of the input buffer; a line "NNN text" (not "NNN-") ends a
 * reply. Returns false when the session ended. */
static bool parse_replies(struct session *s) {
  size_t start = 0;
  for (;;) {
    char *nl = memchr(s->in + start, '\n', s->in_len - start);
    if (!nl) break;
    size_t end = (size_t)(nl - s->in);
    char *line = s->in + start;
    *nl = '\0';
    if (end > start && s->in[end - 1] == '\r') s->in[end - 1] = '\0';
    start = end + 1;
    if (s->step == kIdle) {
      finish(s, false, line); /* the server spoke to an idle session: a timeout, probably */
      return false;
    }
    if (strlen(line) < 3 || line[0] < '2' || line[0] > '5') {
      finish(s, false, "malformed reply line");
      return false;
    }
    if (line[3] == '-') continue;
    enum step before = s->step;
    if (!on_reply(s, line)) return false;
    if (before == kStarttls) return true; /* start_tls() emptied the buffer */
  }
  memmove(s->in, s->in + start, s->in_len - start);
  s->in_len -= start;
  if (s->in_len == sizeof s->in) {
    finish(s, false, "reply line too long");
    return false;
  }
  return true;
}

/* Reads what is there (and what GnuTLS holds decrypted). Returns false when the
 * session ended. */
static bool read_input(struct session *s) {
  for (;;) {
    ssize_t n;
    size_t room = sizeof s->in - s->in_len;
    if (s->tls) {
      n = gnutls_record_recv(s->tls, s->in + s->in_len, room);
      if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) return true;
      if (n < 0) {
        fail_tls(s, "receive", (int)n);
        return false;
      }
    } else {
      n = recv(s->fd, s->in + s->in_len, room, 0);
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
      if (n < 0) {
        char reason[160];
        snprintf(reason, sizeof reason, "receive: %s", strerror(errno));
        finish(s, false, reason);
        return false;
      }
    }
    if (n == 0) {
      finish(s, false, "connection closed by the server");
      return false;
    }
    s->in_len += (size_t)n;
    if (!parse_replies(s)) return false;
    if (s->step == kHandshake) return true; /* after STARTTLS: the handshake reads now */
  }
}

static void on_event(struct session *s, uint32_t events) {
  if (s->step == kConnect) {
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error) {
      finish(s, false, strerror(error));
      return;
    }
    enter(s, kBanner);
    return;
  }
  if (s->step == kHandshake) {
    handshake(s);
    return;
  }
  if (s->out_len && !flush_out(s)) return;
  if (s->out_len) return;
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || (s->tls && gnutls_record_check_pending(s->tls)))
    read_input(s);
}

static bool more_to_start(void) {
  if (stop_signal) return false;
  return opt.total ? started < opt.total : now() < start_until;
}

/* Binds FD to the next --bind address, the port left to connect(): each address then
 * has its own ephemeral ports towards the server. */
static void bind_source(int fd) {
  static uint32_t next;
  struct sockaddr_in source = {.sin_family = AF_INET};
  source.sin_addr.s_addr = htonl(opt.bind_first + next);
  next = (next + 1) % opt.bind_count;
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&source, sizeof source) < 0) {
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &source.sin_addr, text, sizeof text);
    die("cannot bind to %s (--bind): %s", text, strerror(errno));
  }
}

/* Starts the next session on LANE. */
static void start_session(int lane) {
  struct session *s = calloc(1, sizeof *s);
  if (!s) die("out of memory for session %ld", started + 1);
  s->lane = lane;
  s->deadline = now() + opt.timeout;
  s->step = kConnect;
  started++;
  running++;
  lanes[lane].session = s;
  s->fd = socket(server.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) die("socket: %s (raise the open file limit?)", strerror(errno));
  int one = 1;
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (opt.bind_count) bind_source(s->fd);
  s->events = EPOLLOUT;
  struct epoll_event ev = {.events = s->events, .data.ptr = s};
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, s->fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
  if (connect(s->fd, (struct sockaddr *)&server, server_len) < 0 && errno != EINPROGRESS) {
    char reason[160];
    snprintf(reason, sizeof reason, "connect: %s", strerror(errno));
    finish(s, false, reason);
  }
}

/* ------------------------------------------------------------------ main loop */

static void on_signal(int sig) { stop_signal = sig; }

static void expire(double t) {
  for (int i = 0; i < opt.concurrency; i++) {
    struct session *s = lanes[i].session;
    if (s && s->step != kIdle && t > s->deadline) finish(s, false, "timed out");
  }
}

static void set_up(void) {
  struct sockaddr_in *v4 = (struct sockaddr_in *)&server;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&server;
  if (inet_pton(AF_INET, opt.host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)opt.port);
    server_len = sizeof *v4;
  } else if (inet_pton(AF_INET6, opt.host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)opt.port);
    server_len = sizeof *v6;
  } else {
    die("--host wants a numeric IPv4 or IPv6 address, not '%s'", opt.host);
  }
  if (opt.bind_count && server.ss_family != AF_INET) die("--bind goes with an IPv4 --host");
  /* Each session is a descriptor: as many as the hard limit allows. */
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < (rlim_t)opt.concurrency + 16)
    die("open file limit %ld is below --concurrency %d", (long)limit.rlim_cur, opt.concurrency);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int rc = gnutls_global_init();
  if (rc < 0) die("gnutls_global_init: %s", gnutls_strerror(rc));
  if ((rc = gnutls_certificate_allocate_credentials(&credentials)) < 0)
    die("gnutls_certificate_allocate_credentials: %s", gnutls_strerror(rc));
  const char *where;
  if ((rc = gnutls_priority_init(&priority, opt.priority, &where)) < 0)
    die("--priority '%s' is invalid at '%s': %s", opt.priority, where, gnutls_strerror(rc));
  base64(opt.user, user64, sizeof user64);
  base64(opt.password, password64, sizeof password64);
  build_message();
  lanes = calloc((size_t)opt.concurrency, sizeof *lanes);
  if (!lanes) die("out of memory for %d lanes", opt.concurrency);
  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) die("epoll_create1: %s", strerror(errno));
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

/* Starts a session on every free lane while sessions are left to start. Returns
 * whether one is still free (a session that failed at once). */
static bool fill_lanes(void) {
  bool free_lane = false;
  for (int i = 0; i < opt.concurrency && more_to_start(); i++) {
    if (!lanes[i].session) start_session(i);
    if (!lanes[i].session) free_lane = true;
  }
  return free_lane && more_to_start();
}

/* Closes the held idle sessions, each a session that did what it had to. */
static void close_idle(void) {
  while (idle_list) finish(idle_list, true, NULL);
}

/* Runs until no session is left, or in --idle mode until the hold ends. */
static void run(void) {
  enum { kBatch = 256 };
  struct epoll_event events[kBatch];
  double last_expiry = now();
  bool announced = false;
  double hold_end = 0;
  for (;;) {
    bool free_lane = fill_lanes();
    if (running == 0 && !free_lane) break;
    if (opt.idle) {
      if (!announced && idle_held + failed == opt.idle) {
        announced = true;
        hold_end = now() + opt.hold;
        printf("idle_ready=%ld failed=%ld\n", idle_held, failed);
        fflush(stdout);
      }
      if (stop_signal || (announced && now() >= hold_end)) break;
    }
    int n = epoll_wait(epoll_fd, events, kBatch, free_lane ? 0 : 200);
    if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
    for (int i = 0; i < n; i++) on_event(events[i].data.ptr, events[i].events);
    double t = now();
    if (t - last_expiry >= 0.5) {
      last_expiry = t;
      expire(t);
    }
  }
}

int main(int argc, char **argv) {
  parse_options(argc, argv);
  set_up();
  double cpu0 = cpu_seconds(), t0 = now();
  start_until = t0 + opt.duration;
  /* In --idle mode the lanes only bound how many connect and handshake at once. */
  run();
  double wall = now() - t0;
  long held = idle_held;
  close_idle();
  double cpu = cpu_seconds() - cpu0;
  print_failures();
  if (opt.idle) {
    printf(
        "mode=idle held=%ld failed=%ld dropped=%ld wall_s=%.3f client_cpu_s=%.3f "
        "handshakes_full=%ld handshakes_resumed=%ld\n",
        held, failed - idle_dropped, idle_dropped, wall, cpu, handshakes_full, handshakes_resumed);
  } else {
    printf(
        "mode=submit ok=%ld failed=%ld concurrency=%d size=%ld wall_s=%.3f sessions_per_s=%.1f "
        "client_cpu_s=%.3f client_cpu_ms_per_session=%.3f handshakes_full=%ld "
        "handshakes_resumed=%ld\n",
        ok, failed, opt.concurrency, opt.size, wall, wall > 0 ? ok / wall : 0.0, cpu,
        ok + failed ? cpu * 1000 / (double)(ok + failed) : 0.0, handshakes_full,
        handshakes_resumed);
  }
  return failed ? 1 : 0;
}
