// Talks to systemd (sd_notify): READY=1 once serving, STOPPING=1 on the way out, STATUS=
// lines for `systemctl status`, and WATCHDOG=1 at half the watchdog interval while the I/O
// thread turns. Outside systemd every call is a cheap no-op.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <string>

namespace baton {

class service_notifier {
public:
  explicit service_notifier(boost::asio::io_context& io);

  void ready(const std::string& status);
  void stopping();
  void status(const std::string& text);

private:
  void arm_watchdog();

  boost::asio::steady_timer watchdog_timer_;
  std::chrono::microseconds watchdog_interval_{0};
};

} // namespace baton
