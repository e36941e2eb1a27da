// lib/queue/retry_schedule.h — qmgr's names for the delivery schedule, until
// qmgr is wired to it.
//
// qmgr/queue_manager.cc keeps its retry timer in a RetrySchedule and waits
// RetryDelay(n) after the n-th failed local delivery. Both are now the
// delivery schedule's (lib/queue/delivery_schedule.h): its due-time index,
// and its back-off with the values qmgr has always used (1 minute doubling
// to 1 hour), so that qmgr behaves as before. Delete this file when qmgr
// takes DeliverySettings from the configuration (issue 10).
#pragma once

#include "lib/queue/delivery_schedule.h"

namespace postern {

using RetrySchedule = DueMessages;

inline constexpr DeliverySettings kQmgrLocalRetrySettings{
    .minimal_backoff_time = std::chrono::minutes(1),
    .maximal_backoff_time = std::chrono::hours(1),
};

inline Duration RetryDelay(int failed_attempts) {
  return RetryDelay(failed_attempts, kQmgrLocalRetrySettings);
}

}  // namespace postern
