// lib/base/process_id.h — this process's id, without a system call each time.
//
// glibc has not cached getpid(2) since 2.25, and every log line, queue id and
// Maildir file name carries the id: a session of one message asked the
// kernel some ten times. The id is read once and again in the child of every
// fork() (pthread_atfork), so a forked child never reports its parent's.
#pragma once

namespace postern {

int ProcessId();

}  // namespace postern
