/*
 * SecuMailer tests — an LD_PRELOAD shim that makes fsync() and
 * fdatasync() fail with EIO while the file named by $SMD_FAIL_SYNC exists:
 * a disk that cannot make data durable (test-attacks.py). The daemon must
 * then answer 4xx, never 250.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

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
	if (failing()) {
		errno = EIO;
		return -1;
	}
	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	return real(fd);
}
