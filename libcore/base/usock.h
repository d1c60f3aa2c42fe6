/* Unix-domain stream sockets that voidbox serves (the vsock device's
 * CONNECT socket, the vhost-user socket): create, replacing a stale socket
 * file left by an earlier run but never any other kind of file. */
#ifndef VOIDBOX_USOCK_H
#define VOIDBOX_USOCK_H

/* Listens on path (non-blocking, close-on-exec) with the given backlog.
 * Returns the fd, or -errno: -ENAMETOOLONG for a path that does not fit a
 * sockaddr_un (or is empty), -EEXIST when a non-socket file is there. */
int usock_listen(const char *path, int backlog);
/* Accepts a connection on lfd (non-blocking, close-on-exec). When the
 * process is out of fds, the spare fd (*spare, opened on /dev/null by the
 * caller and kept for this) is given up to accept the connection and drop
 * it, then taken again, so a listener never stays readable while nothing
 * can take its connections (a busy loop). Returns the fd, -EAGAIN when
 * nothing is pending, -EMFILE when a connection was dropped, or -errno. */
int usock_accept(int lfd, int *spare);
/* Opens a spare fd for usock_accept(). Returns it or -errno. */
int usock_spare(void);

#endif
