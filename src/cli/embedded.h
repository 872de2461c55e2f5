#pragma once

#include <memory>
#include <string>
#include <thread>

#include "base/status.h"
#include "client/http_client.h"
#include "server/options.h"

namespace corral::cli {

// A private corral server inside this process, for `corral mcp --embedded`: it listens on a
// Unix socket in a fresh 0700 directory and runs on its own thread. Destroying it shuts it down
// gracefully (every process it started is ended) and removes the directory. If the server is
// stopped from outside (SIGTERM, SIGINT), the whole process exits once it is down.
class EmbeddedServer {
 public:
  static base::Result<std::unique_ptr<EmbeddedServer>> Start(server::ServeOptions options);
  ~EmbeddedServer();

  const client::Endpoint& endpoint() const { return endpoint_; }

 private:
  EmbeddedServer() = default;
  std::string dir_;
  client::Endpoint endpoint_;
  std::thread thread_;
};

}  // namespace corral::cli
