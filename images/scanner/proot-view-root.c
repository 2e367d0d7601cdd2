/*
 * proot-view-root.so: an LD_PRELOAD interposer loaded into the PRoot process only.
 *
 * The agent hands PRoot the target's root as an inherited descriptor, `-r /proc/self/fd/N/`.
 * PRoot canonicalizes its -r argument with realpath(3), which follows the magic link: for a
 * container started with pivot_root (every runc/containerd container), /proc/<pid>/root and the
 * descriptor read back as "/", so the guest root would silently become the scanner's own root.
 * PRoot 5.1.0 has no option to skip that, and patching PRoot is not possible where the scanner
 * image is built (its source package is not available), so this library returns exactly the
 * configured view-root string unchanged and leaves every other call to the real realpath.
 * PRoot then translates guest paths to /proc/self/fd/N/<path>, which the kernel resolves in
 * whichever process performs the system call (the tracees inherit descriptor N).
 *
 * SIDESCAN_PROOT_VIEW_ROOT names the string. A constructor copies it and removes it and
 * LD_PRELOAD from the environment before PRoot starts, so the programs PRoot runs neither load
 * this library nor see the variables.
 *
 * Build: cc -O2 -Wall -shared -fPIC -o proot-view-root.so proot-view-root.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static char *view_root;

__attribute__((constructor)) static void sidescan_view_root_init(void)
{
	const char *value = getenv("SIDESCAN_PROOT_VIEW_ROOT");
	if (value != NULL && value[0] == '/' && strlen(value) < PATH_MAX)
		view_root = strdup(value);
	unsetenv("SIDESCAN_PROOT_VIEW_ROOT");
	unsetenv("LD_PRELOAD");
}

static int is_view_root(const char *path)
{
	return view_root != NULL && path != NULL && strcmp(path, view_root) == 0;
}

static char *unchanged(const char *path, char *resolved)
{
	if (resolved == NULL)
		return strdup(path);
	/* realpath(3): a caller's buffer holds PATH_MAX bytes; the string is shorter (checked). */
	strcpy(resolved, path);
	return resolved;
}

char *realpath(const char *path, char *resolved)
{
	static char *(*real_realpath)(const char *, char *);
	if (is_view_root(path))
		return unchanged(path, resolved);
	if (real_realpath == NULL)
		real_realpath = (char *(*)(const char *, char *))dlsym(RTLD_NEXT, "realpath");
	return real_realpath(path, resolved);
}

/* The _FORTIFY_SOURCE variant a caller compiled with fortification uses. */
char *__realpath_chk(const char *path, char *resolved, size_t resolved_len)
{
	static char *(*real_chk)(const char *, char *, size_t);
	if (is_view_root(path) && (resolved == NULL || strlen(path) < resolved_len))
		return unchanged(path, resolved);
	if (real_chk == NULL)
		real_chk = (char *(*)(const char *, char *, size_t))dlsym(RTLD_NEXT, "__realpath_chk");
	return real_chk(path, resolved, resolved_len);
}
