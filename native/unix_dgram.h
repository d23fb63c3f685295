// Datagrams to an AF_UNIX socket path: the local syslog socket (/dev/log).
// Node's dgram module has no AF_UNIX sockets, and libc's syslog(3) speaks
// only the old BSD format to a fixed path. Plain C++; no Node here.
#pragma once

#include <cstddef>
#include <string>

namespace wasmshark {

// A non-blocking, close-on-exec datagram socket; the fd, or -errno.
int UnixDgramOpen();

// Sends one datagram to `path`; 0, or -errno (-EAGAIN when the receiver's
// queue is full: never blocks; -ENOENT or -ECONNREFUSED when nothing listens).
int UnixDgramSend(int fd, const std::string& path, const void* data, size_t len);

void UnixDgramClose(int fd);

}  // namespace wasmshark
