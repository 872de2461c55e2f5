#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

#include "api/router.h"
#include "proc/process.h"
#include "proc/process_table.h"

namespace corral::server {

// How long a stream may stay silent before a keep-alive comment goes out.
inline constexpr std::chrono::seconds kKeepAliveInterval{15};

// Sends `GET /{id}/stream` (DESIGN §7.2): a 200 text/event-stream, then the process's output
// from `offset` as `output` events, at the reader's pace (the next chunk is read from the
// spool only after the previous one was written, so a slow reader costs no memory), a
// keep-alive comment after kKeepAliveInterval of silence, `state` events when the command has a
// stdin pipe or terminal (its waiting_for_input first, then each change, each after the output
// written before it), and `exit` after the last byte.
// HTTP/1.1 gets chunked transfer encoding, HTTP/1.0 a body ended by the close; either way the
// connection is closed after it. Each write must complete within `write_timeout`. Returns when
// the stream ended or the client went away (`client_gone`). Counts as a waiter of `table`.
boost::asio::awaitable<void> SendEventStream(
    boost::beast::basic_stream<boost::asio::ip::tcp>& stream, unsigned version,
    proc::ProcessTable& table, std::shared_ptr<const proc::Process> process, std::uint64_t offset,
    std::chrono::milliseconds write_timeout, api::ClientGone client_gone);
boost::asio::awaitable<void> SendEventStream(
    boost::beast::basic_stream<boost::asio::local::stream_protocol>& stream, unsigned version,
    proc::ProcessTable& table, std::shared_ptr<const proc::Process> process, std::uint64_t offset,
    std::chrono::milliseconds write_timeout, api::ClientGone client_gone);

}  // namespace corral::server
