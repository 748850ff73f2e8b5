// systemd notifications; see service_notifier.hpp.
#include "daemon/service_notifier.hpp"

#include <systemd/sd-daemon.h>

namespace baton {

service_notifier::service_notifier(boost::asio::io_context& io) : watchdog_timer_(io) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0) watchdog_interval_ = std::chrono::microseconds(usec);
}

void service_notifier::ready(const std::string& text) {
  sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%lu", text.c_str(),
             static_cast<unsigned long>(getpid()));
  if (watchdog_interval_.count() > 0) arm_watchdog();
}

void service_notifier::stopping() {
  watchdog_timer_.cancel();
  sd_notify(0, "STOPPING=1\nSTATUS=stopping");
}

void service_notifier::status(const std::string& text) {
  sd_notifyf(0, "STATUS=%s", text.c_str());
}

void service_notifier::arm_watchdog() {
  // Pinging from the I/O thread's own timer means a stuck event loop stops the pings, and
  // systemd restarts us: that is the point.
  watchdog_timer_.expires_after(watchdog_interval_ / 2);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    sd_notify(0, "WATCHDOG=1");
    arm_watchdog();
  });
}

} // namespace baton
