// The MCP tools as a model sees them: names, descriptions, input and output schemas.
#include <boost/json.hpp>

#include "mcp/tools.h"

namespace corral::mcp {
namespace json = boost::json;

// The tool definitions: names, descriptions written for a model, input and output schemas.
const json::array& ToolDefinitions() {
  static const json::array tools = [] {
    const json::value process_result = json::parse(R"({
      "type": "object",
      "properties": {
        "id": {"type": "string"},
        "output": {"type": "string"},
        "running": {"type": "boolean"},
        "exit_code": {"type": "integer"},
        "exit_signal": {"type": "string"},
        "ended_by": {"type": "string"},
        "truncated": {"type": "object"},
        "offset": {"type": "integer"},
        "next_offset": {"type": "integer"},
        "total_bytes": {"type": "integer"},
        "remaining_bytes": {"type": "integer"},
        "eof": {"type": "boolean"},
        "gap": {"type": "object"},
        "replayed": {"type": "boolean"},
        "waiting_for_input": {"type": "boolean"},
        "listening_ports": {"type": "array", "items": {"type": "integer"}},
        "stdin": {"type": "string"}
      },
      "required": ["id", "running"]
    })");
    json::array t;
    t.push_back({{"name", "run_command"},
                 {"title", "Run a shell command"},
                 {"description",
                  "Run a shell command (sh -c) and return its output and exit code. Waits up to "
                  "yield_ms (default 10000, at most 30000) for it to finish. If it is still "
                  "running then, returns the output so far with running=true, its id, "
                  "next_offset, waiting_for_input and listening_ports: the command is NOT "
                  "stopped by this (only timeout_ms, a deadline you choose, ends it). Then: "
                  "process_output with offset=next_offset (and wait_ms) follows a long build to "
                  "its end, every byte once; send_input answers a prompt or drives a REPL; "
                  "listening_ports shows when a dev server is up; signal_process stops it. For "
                  "interactive programs (python3 -i, a [y/N] prompt, a password, ssh) start "
                  "with stdin=\"tty\" (a terminal, as a user types at it) or stdin=\"pipe\" "
                  "(plain bytes; close sends EOF); with stdin, run_command returns as soon as "
                  "the program waits for input (waiting_for_input=true). Without stdin, a "
                  "command that reads input gets EOF. A long output shows its first and last "
                  "16 KiB; process_output with an offset reads any part exactly. With "
                  "background=true, returns the id at once (next_offset 0). If you may retry "
                  "this call, pass an idempotency_key: a repeat with the same key and arguments "
                  "returns the process the first call started (replayed=true) instead of "
                  "running the command again."},
                 {"inputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {
                      "command": {"type": "string", "minLength": 1,
                                  "description": "Shell command line, run as sh -c COMMAND."},
                      "workdir": {"type": "string",
                                  "description": "Working directory; defaults to the server's."},
                      "env": {"type": "object", "additionalProperties": {"type": "string"},
                              "description": "Extra environment variables."},
                      "background": {"type": "boolean",
                                     "description": "Return at once without waiting."},
                      "yield_ms": {"type": "integer", "minimum": 0, "maximum": 30000,
                                   "description": "How long to wait for the command to finish before returning with running=true (default 10000). Never stops it."},
                      "timeout_ms": {"type": "integer", "minimum": 0, "maximum": 604800000,
                                     "description": "A deadline: the command is terminated (SIGTERM, then SIGKILL 5 s later) once it has run this long, ended_by=\"deadline\". Leave it out to let it run until it ends."},
                      "stdin": {"type": "string", "enum": ["null", "pipe", "tty"],
                                "description": "\"tty\": run on a terminal (24x80) for REPLs and prompts; \"pipe\": a plain pipe for send_input; \"null\" (default): no input."},
                      "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 255,
                                          "description": "Any unique string (printable ASCII) naming this start, such as a UUID: the same key with the same arguments never runs the command twice, even across a restart of the server."}
                    },
                    "required": ["command"]
                  })")},
                 {"outputSchema", process_result}});
    t.push_back({{"name", "send_input"},
                 {"title", "Type into a running command"},
                 {"description",
                  "Write text to the stdin of a command started by run_command with stdin "
                  "\"pipe\" or \"tty\" (end a line with \\n, as Enter), then return what it "
                  "printed in reply: the output after the write, waiting up to yield_ms "
                  "(default 2000, at most 30000) and returning early as soon as it waits for "
                  "input again (waiting_for_input=true) or ends. On a tty, \\u0003 is Ctrl-C "
                  "and the output echoes what was typed. close=true ends its input (EOF) after "
                  "the text. The result has next_offset, running, waiting_for_input and, once "
                  "done, exit_code; call process_output with offset=next_offset for more."},
                 {"inputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {
                      "id": {"type": "string", "description": "The process id."},
                      "text": {"type": "string", "description": "What to write, exactly; end with \n to press Enter."},
                      "close": {"type": "boolean", "description": "Close its stdin after the text (EOF)."},
                      "yield_ms": {"type": "integer", "minimum": 0, "maximum": 30000,
                                   "description": "How long to wait for its answer (default 2000)."}
                    },
                    "required": ["id"]
                  })")},
                 {"outputSchema", process_result}});
    t.push_back({{"name", "process_output"},
                 {"title", "Read a process's output"},
                 {"description",
                  "Read a process started by run_command: its output, running state and exit "
                  "code. Without offset: the whole output so far as a view of its first and last "
                  "16 KiB, and next_offset. With offset (the next_offset of the previous "
                  "run_command or process_output result): only the output after that byte "
                  "offset, at most 16 KiB per call, and next_offset to pass next time; "
                  "remaining_bytes counts what is already there beyond it (call again to read "
                  "on, or pass a larger offset to skip ahead: offsets are bytes, total_bytes is "
                  "the end). Following a long build this way gives every byte exactly once. "
                  "With wait_ms, first waits up to that long for the process to finish "
                  "(waiting never stops it), then reads."},
                 {"inputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {
                      "id": {"type": "string", "description": "The process id."},
                      "offset": {"type": "integer", "minimum": 0,
                                 "description": "Return only the output after this byte offset (a next_offset you were given), at most 16 KiB."},
                      "clean": {"type": "boolean",
                                "description": "Show the output without terminal escape sequences (colors), with progress bars collapsed to their last frame and very long lines cut in the middle. Offsets still count the raw bytes."},
                      "wait_ms": {"type": "integer", "minimum": 0, "maximum": 600000,
                                  "description": "Wait up to this long for the process to finish (at most 50000 unless the request asks for progress notifications)."}
                    },
                    "required": ["id"]
                  })")},
                 {"outputSchema", process_result}});
    t.push_back({{"name", "wait_processes"},
                 {"title", "Wait for several processes"},
                 {"description",
                  "Wait until any one (or, with all=true, every one) of several processes "
                  "started by run_command is done, up to timeout_ms (default 30000); returns "
                  "the state of each (running, exit_code, ended_by), in the order of ids. Use it "
                  "to wait on parallel jobs (builds, test shards) instead of polling each with "
                  "process_output; read their output with process_output afterwards. Waiting "
                  "never stops them."},
                 {"inputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {
                      "ids": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                              "description": "The process ids."},
                      "all": {"type": "boolean",
                              "description": "Wait until every one is done (default: any one)."},
                      "timeout_ms": {"type": "integer", "minimum": 0, "maximum": 600000,
                                     "description": "The longest wait (default 30000; at most 50000 unless the request asks for progress notifications). Does not stop them."}
                    },
                    "required": ["ids"]
                  })")},
                 {"outputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {"processes": {"type": "array", "items": {"type": "object"}}},
                    "required": ["processes"]
                  })")}});
    t.push_back({{"name", "list_processes"},
                 {"title", "List processes"},
                 {"description",
                  "List recent processes (running first, then newest; at most `limit`, default "
                  "10) with their ids, commands, running state and exit codes."},
                 {"inputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {
                      "limit": {"type": "integer", "minimum": 1,
                                "description": "How many to list (default 10; the server lists at most 1024)."}
                    }
                  })")},
                 {"outputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {"processes": {"type": "array", "items": {"type": "object"}}},
                    "required": ["processes"]
                  })")}});
    t.push_back({{"name", "signal_process"},
                 {"title", "Stop a process"},
                 {"description",
                  "Send a signal to a process and everything it started (its process group): "
                  "terminate (SIGTERM, lets it clean up) or kill (SIGKILL, immediate)."},
                 {"inputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {
                      "id": {"type": "string", "description": "The process id."},
                      "signal": {"type": "string", "enum": ["terminate", "kill"]}
                    },
                    "required": ["id", "signal"]
                  })")},
                 {"outputSchema", json::parse(R"({
                    "type": "object",
                    "properties": {"message": {"type": "string"}},
                    "required": ["message"]
                  })")}});
    return t;
  }();
  return tools;
}

}  // namespace corral::mcp
