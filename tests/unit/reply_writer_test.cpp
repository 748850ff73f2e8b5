// Reply encoding in RESP2 and RESP3.
#include <catch2/catch.hpp>

#include "protocol/reply_writer.hpp"

using baton::protocol::reply_writer;

TEST_CASE("RESP2 degrades RESP3 shapes the way Redis does") {
  std::string out;
  reply_writer w(out, 2);
  w.null();
  w.map(1);
  w.boolean(true);
  w.floating(1.5);
  w.push(0);
  CHECK(out == "$-1\r\n*2\r\n:1\r\n$3\r\n1.5\r\n*0\r\n");
}

TEST_CASE("RESP3 uses its own types") {
  std::string out;
  reply_writer w(out, 3);
  w.null();
  w.map(1);
  w.boolean(false);
  w.floating(2.0);
  w.push(2);
  CHECK(out == "_\r\n%1\r\n#f\r\n,2\r\n>2\r\n");
}

TEST_CASE("simple strings and errors cannot carry line breaks") {
  std::string out;
  reply_writer w(out, 2);
  w.error("ERR bad\r\ninjected");
  w.simple("a\nb");
  CHECK(out == "-ERR bad  injected\r\n+a b\r\n");
}

TEST_CASE("bulk strings are binary safe") {
  std::string out;
  reply_writer(out, 2).bulk(std::string("a\0\r\nb", 5));
  CHECK(out == std::string("$5\r\na\0\r\nb\r\n", 11));
}
