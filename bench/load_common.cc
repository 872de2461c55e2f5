// The helpers every mode of corral_load shares (contracts in load.h).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <sstream>

#include "load.h"

namespace corral::bench {

namespace json = boost::json;

void Die(const std::string& why) { throw LoadError(why); }

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::int64_t RealtimeNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t i = std::min(v.size() - 1, static_cast<std::size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

json::object P50P99(const std::vector<double>& ms) {
  return {{"p50", Percentile(ms, 0.5)}, {"p99", Percentile(ms, 0.99)}};
}

long StatusKb(int pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

long CpuTicks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return utime + stime;
}

std::unique_ptr<client::HttpClient> Connect(const std::string& server) {
  auto endpoint = client::ParseEndpoint(server);
  if (!endpoint.ok()) Die(endpoint.status().message());
  return std::make_unique<client::HttpClient>(client::Destination{*endpoint, "", ""});
}

std::string StartOrDie(client::CorralClient& api, const std::string& command) {
  client::StartArgs args;
  args.command = command;
  auto r = api.Start(args);
  if (!r.ok()) Die("start: " + r.status().message());
  return std::string(r->at("id").as_string());
}

json::object WaitDoneOrDie(client::CorralClient& api, const std::string& id) {
  auto out = api.WaitOutput(id, std::nullopt);
  if (!out.ok()) Die("wait: " + out.status().message());
  if (out->at("running").as_bool()) Die("still running after waiting for it");
  return std::move(*out);
}

json::object CallOrDie(client::HttpClient& http, std::string_view method,
                       const std::string& target) {
  auto r = http.Send(method, target, {}, std::chrono::seconds(30));
  if (!r.ok()) Die(target + ": " + r.status().message());
  if (r->status != 200) Die(target + ": HTTP " + std::to_string(r->status) + " " + r->body);
  return json::parse(r->body).as_object();
}

std::int64_t Health(client::HttpClient& http, const char* field) {
  return CallOrDie(http, "GET", "/api/v0/health").at(field).as_int64();
}

void WaitForWaiters(client::HttpClient& http, std::int64_t n) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (Health(http, "waiters") < n) {
    if (Clock::now() > deadline) Die("waiters did not attach");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int OpenHeldRequest(const std::string& server, const std::string& target) {
  auto endpoint = client::ParseEndpoint(server);
  if (!endpoint.ok() || endpoint->is_unix) Die("a TCP server is needed: " + server);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(endpoint->port)));
  if (inet_pton(AF_INET, endpoint->host.c_str(), &addr.sin_addr) != 1) Die("not IPv4: " + server);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    Die("connect " + server);
  }
  const std::string req = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) Die("write request");
  return fd;
}

Connections::Connections(const std::string& server, int n) {
  for (int i = 0; i < n; ++i) {
    Client& c = clients_.emplace_back(Client{Connect(server), nullptr});
    c.api = std::make_unique<client::CorralClient>(*c.http);
    Health(*c.http, "processes");  // connects
  }
}

void OwnChildren::KillAll() {
  for (const Child& c : children_) kill(c.leads_group ? -c.pid : c.pid, SIGKILL);
  for (const Child& c : children_) waitpid(c.pid, nullptr, 0);
  children_.clear();
}

}  // namespace corral::bench
