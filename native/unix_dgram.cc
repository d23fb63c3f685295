#include "unix_dgram.h"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace wasmshark {

int UnixDgramOpen() {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  return fd < 0 ? -errno : fd;
}

int UnixDgramSend(int fd, const std::string& path, const void* data, size_t len) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) return -ENAMETOOLONG;
  memcpy(addr.sun_path, path.data(), path.size());
  // unconnected: a syslog daemon that restarts (a new socket at the same path) is found again
  ssize_t n = sendto(fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  return n < 0 ? -errno : 0;
}

void UnixDgramClose(int fd) {
  if (fd >= 0) close(fd);
}

}  // namespace wasmshark
