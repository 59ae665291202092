/*
 * SecuMailer tests — an LD_PRELOAD shim that makes fsync() and
 * fdatasync() fail with EIO while the file named by $SMD_FAIL_SYNC exists:
 * a disk that cannot make data durable (test-attacks.py). The daemon must
 * then answer 4xx, never 250. With $SMD_SYNC_LOG it also appends the path
 * of every file it syncs to that file, a line each: what is flushed and
 * when (test-crash.py).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void
log_sync(int fd)
{
	const char *log = getenv("SMD_SYNC_LOG");
	char link[64], line[4096];
	ssize_t n;
	int out;

	if (log == NULL)
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, line, sizeof(line) - 1);
	if (n < 0)
		return;
	line[n++] = '\n';
	/* one write() of one line with O_APPEND: lines of threads never mix */
	out = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (out < 0)
		return;
	n = write(out, line, (size_t)n); /* a test's log: a short write shows in it */
	close(out);
}

static int
failing(void)
{
	const char *flag = getenv("SMD_FAIL_SYNC");
	return flag != NULL && access(flag, F_OK) == 0;
}

int
fsync(int fd)
{
	static int (*real)(int);
	log_sync(fd);
	if (failing()) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	return real(fd);
}

int
fdatasync(int fd)
{
	static int (*real)(int);
	log_sync(fd);
	if (failing()) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}
