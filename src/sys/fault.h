#pragma once

namespace corral::sys {

// The system calls that tests can make fail, to prove that each failure is answered cleanly and
// leaves nothing behind (the idea of Envoy's os_sys_calls, kept to what Corral needs).
// kSpoolWrite: WriteAt (sys/file_io.h), through which the spool writes its file.
enum class Call { kPipe2, kSpawn, kSpoolWrite };

// Makes the next `times` calls of `call` fail with `error` without running them. For tests;
// thread-safe, and free when nothing is injected.
void InjectFault(Call call, int error, int times = 1);
void ClearFaults();

// The error `call` must fail with now (consuming one injected failure), or 0 to go on.
int TakeFault(Call call);

}  // namespace corral::sys
