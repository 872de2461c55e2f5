// `listening_ports` and `read?wait=listening` (DESIGN §7.3), through the real binary: commands
// that listen on TCP ports (themselves, through a grandchild, over IPv6) or on nothing.
#include <fstream>

#include <gtest/gtest.h>

#include "harness.h"

namespace corral::testing {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

// A Python script that listens on a free port of `host` (IPv6 when it has a colon), prints the
// port and sleeps; returns its path.
std::string ListenerScript(const std::string& host = "127.0.0.1") {
  const std::string path = TempDir() + "/listen.py";
  std::ofstream(path) << "import socket, time\n"
                      << "family = socket.AF_INET6 if ':' in '" << host << "' else socket.AF_INET\n"
                      << "s = socket.socket(family)\n"
                      << "s.bind(('" << host << "', 0))\n"
                      << "s.listen()\n"
                      << "print(s.getsockname()[1], flush=True)\n"
                      << "time.sleep(100)\n";
  return path;
}

// The port the listener printed, once it did (0 if it never did).
std::int64_t PrintedPort(Server& server, const std::string& id) {
  std::int64_t port = 0;
  Eventually([&] {
    auto r = server.Get("/api/v0/processes/" + id + "/read?wait=output&timeout_ms=1000");
    const std::string data(r.json.at("data").as_string());
    if (data.empty() || data.back() != '\n') return false;
    port = std::stoll(data);
    return true;
  });
  return port;
}

json::array Ports(const json::value& answer) { return answer.at("listening_ports").as_array(); }

json::object Listed(Server& server, const std::string& id) {
  auto r = server.Get("/api/v0/processes/list?limit=1024");
  for (const auto& p : r.json.at("processes").as_array()) {
    if (p.at("id").as_string() == id) return p.as_object();
  }
  ADD_FAILURE() << "not listed: " << r.body;
  return {};
}

void Kill(Server& server, const std::string& id) {
  server.Post("/api/v0/processes/" + id + "/signal", R"({"signal":"kill"})");
}

TEST(ListeningPorts, WaitListeningReturnsWithThePortTheCommandListensOn) {
  Server server;
  const std::string id = server.Start("sleep 0.5; exec python3 " + ListenerScript());
  auto r = server.Get("/api/v0/processes/" + id + "/read?wait=listening&timeout_ms=20000");
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.json.at("running").as_bool()) << r.body;
  ASSERT_EQ(Ports(r.json).size(), 1u) << r.body;
  const std::int64_t port = PrintedPort(server, id);
  ASSERT_GT(port, 0);
  EXPECT_EQ(Ports(r.json)[0], port) << r.body;
  // The same in `list` and `output`.
  EXPECT_EQ(Ports(Listed(server, id)), json::array({port}));
  EXPECT_EQ(Ports(server.Get("/api/v0/processes/" + id + "/output").json), json::array({port}));
  Kill(server, id);
  auto done = server.WaitOutput(id);
  EXPECT_FALSE(done.contains("listening_ports")) << "left out once done: " << done;
  EXPECT_FALSE(Listed(server, id).contains("listening_ports"));
}

TEST(ListeningPorts, AnEmptyListForACommandListeningOnNothing) {
  Server server;
  const std::string id = server.Start("sleep 100");
  EXPECT_EQ(Ports(Listed(server, id)), json::array());
  EXPECT_EQ(Ports(server.Get("/api/v0/processes/" + id + "/output").json), json::array());
  EXPECT_EQ(Ports(server.Get("/api/v0/processes/" + id + "/read").json), json::array());
  // A wait for a listener that never comes ends at its timeout, with the empty list.
  auto r = server.Get("/api/v0/processes/" + id + "/read?wait=listening&timeout_ms=300");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.json.at("running").as_bool());
  EXPECT_EQ(Ports(r.json), json::array());
  Kill(server, id);
}

TEST(ListeningPorts, CountsAPortAGrandchildListensOn) {
  Server server;
  const std::string id =
      server.Start("sh -c 'python3 " + ListenerScript() + " &' ; sleep 100 > /dev/null");
  const std::int64_t port = PrintedPort(server, id);
  ASSERT_GT(port, 0);
  auto r = server.Get("/api/v0/processes/" + id + "/read?wait=listening&timeout_ms=20000");
  EXPECT_EQ(Ports(r.json), json::array({port})) << r.body;
  EXPECT_TRUE(Eventually([&] { return Ports(Listed(server, id)) == json::array({port}); }));
  Kill(server, id);
}

TEST(ListeningPorts, SeesIpv6ListenersAndSortsSeveralPorts) {
  Server server;
  const std::string v4 = ListenerScript(), v6 = ListenerScript("::1");
  const std::string id = server.Start("python3 " + v4 + " & python3 " + v6 + " & wait");
  std::vector<std::int64_t> printed;
  ASSERT_TRUE(Eventually([&] {
    const std::string out(
        server.Get("/api/v0/processes/" + id + "/output").json.at("output").as_string());
    printed.clear();
    std::size_t at = 0;
    for (std::size_t nl; (nl = out.find('\n', at)) != std::string::npos; at = nl + 1) {
      printed.push_back(std::stoll(out.substr(at, nl - at)));
    }
    return printed.size() == 2;
  }));
  std::sort(printed.begin(), printed.end());
  EXPECT_TRUE(Eventually([&] {
    return Ports(Listed(server, id)) == json::array({printed[0], printed[1]});
  })) << Listed(server, id);
  Kill(server, id);
}

TEST(ListeningPorts, WaitListeningEndsWhenTheCommandIsDone) {
  Server server;
  const std::string id = server.Start("sleep 0.3");
  auto r = server.Get("/api/v0/processes/" + id + "/read?wait=listening&timeout_ms=30000");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.json.at("running").as_bool()) << r.body;
  EXPECT_FALSE(r.json.as_object().contains("listening_ports")) << r.body;
}

TEST(ListeningPorts, AWaitForAListenerCountsAsAWaiterUntilItsClientLeaves) {
  Server server;
  const std::string id = server.Start("sleep 100");
  auto waiters = [&] {
    const std::string text = server.Get("/metrics").body;
    const std::size_t at = text.find("\ncorral_waiters ");
    return at == std::string::npos ? -1 : std::stoll(text.substr(at + 16));
  };
  EXPECT_EQ(waiters(), 0);
  {
    RawConnection waiting(server.host(), server.port());
    ASSERT_TRUE(waiting.Send("GET /api/v0/processes/" + id +
                             "/read?wait=listening HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    EXPECT_TRUE(Eventually([&] { return waiters() == 1; }));
  }
  EXPECT_TRUE(Eventually([&] { return waiters() == 0; })) << "released when the client left";
  EXPECT_EQ(server.Get("/api/v0/processes/" + id + "/read?wait=listen").json.at("message"),
            "Invalid wait.");
  Kill(server, id);
}

}  // namespace
}  // namespace corral::testing
