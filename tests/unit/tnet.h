/*
 * tnet.h - loopback helpers for the unit tests that run the engine
 * against peers of their own.
 */
#ifndef TNET_H
#define TNET_H
#include <stdlib.h>
#include <arpa/inet.h>
#include <sys/socket.h>

/* a listening socket on 127.0.0.1 and a port of the kernel's choice */
static inline int
listen_any(int *port)
{
	struct sockaddr_in sin = { 0 };
	socklen_t sl = sizeof(sin);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 64) < 0)
		abort();
	getsockname(fd, (struct sockaddr *)&sin, &sl);
	*port = ntohs(sin.sin_port);
	return fd;
}
#endif
