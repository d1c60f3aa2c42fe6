/* Unix-domain stream sockets that voidbox serves (the vsock device's
 * CONNECT socket, the vhost-user socket): create, replacing a stale socket
 * file left by an earlier run but never any other kind of file. */
#ifndef VOIDBOX_USOCK_H
#define VOIDBOX_USOCK_H

/* Listens on path (non-blocking, close-on-exec) with the given backlog.
 * Returns the fd, or -errno: -ENAMETOOLONG for a path that does not fit a
 * sockaddr_un (or is empty), -EEXIST when a non-socket file is there. */
int usock_listen(const char *path, int backlog);

#endif
