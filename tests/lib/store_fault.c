/* For tests: store faults (see store_fault.h). The VFS passes every call to the VFS that was the
 * default before it, except the calls it was armed to fail. */
#include "tests/lib/store_fault.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static sqlite3_vfs *real_vfs; /* the default before ours */

const char *store_fault_passthrough(void)
{
    return real_vfs != NULL ? real_vfs->zName : NULL;
}

int store_fault_sql(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    char *err = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, store_fault_passthrough());

    if (rc == SQLITE_OK)
        rc = sqlite3_busy_timeout(db, 10000);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "store_fault_sql %s: %s: %s\n", path, sql,
                err ? err : db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_free(err);
    if (sqlite3_close(db) != SQLITE_OK && rc == SQLITE_OK) {
        fprintf(stderr, "store_fault_sql %s: close failed\n", path);
        rc = SQLITE_ERROR;
    }
    return rc == SQLITE_OK ? 0 : -1;
}

/* ---- the failing VFS ---- */

static struct {
    bool armed;
    enum store_fault_op op;
    enum store_fault_file file;
    int skip, times, code, hits;
    int64_t calls;
} arm;

/* Our file: the real one's state follows it in the same allocation (szOsFile). */
struct ffile {
    sqlite3_file base; /* first: sqlite sees a sqlite3_file */
    sqlite3_file *real;
    enum store_fault_file kind;
};

/* True when this call is to fail (and counts it). */
static bool fault(struct ffile *f, enum store_fault_op op)
{
    if (!arm.armed || arm.op != op || (arm.file != STORE_FAULT_ANY && arm.file != f->kind))
        return false;
    arm.calls++;
    if (arm.skip > 0) {
        arm.skip--;
        return false;
    }
    if (arm.times == 0)
        return false;
    if (arm.times > 0)
        arm.times--;
    arm.hits++;
    return true;
}

static int f_close(sqlite3_file *p)
{
    struct ffile *f = (struct ffile *)p;
    return f->real->pMethods->xClose(f->real);
}

static int f_read(sqlite3_file *p, void *buf, int n, sqlite3_int64 off)
{
    struct ffile *f = (struct ffile *)p;
    if (fault(f, STORE_FAULT_READ))
        return arm.code;
    return f->real->pMethods->xRead(f->real, buf, n, off);
}

static int f_write(sqlite3_file *p, const void *buf, int n, sqlite3_int64 off)
{
    struct ffile *f = (struct ffile *)p;
    if (fault(f, STORE_FAULT_WRITE))
        return arm.code;
    return f->real->pMethods->xWrite(f->real, buf, n, off);
}

static int f_truncate(sqlite3_file *p, sqlite3_int64 size)
{
    struct ffile *f = (struct ffile *)p;
    if (fault(f, STORE_FAULT_TRUNCATE))
        return arm.code;
    return f->real->pMethods->xTruncate(f->real, size);
}

static int f_sync(sqlite3_file *p, int flags)
{
    struct ffile *f = (struct ffile *)p;
    if (fault(f, STORE_FAULT_SYNC))
        return arm.code;
    return f->real->pMethods->xSync(f->real, flags);
}

static int f_size(sqlite3_file *p, sqlite3_int64 *size)
{
    struct ffile *f = (struct ffile *)p;
    return f->real->pMethods->xFileSize(f->real, size);
}

static int f_lock(sqlite3_file *p, int lock)
{
    struct ffile *f = (struct ffile *)p;
    return f->real->pMethods->xLock(f->real, lock);
}

static int f_unlock(sqlite3_file *p, int lock)
{
    struct ffile *f = (struct ffile *)p;
    return f->real->pMethods->xUnlock(f->real, lock);
}

static int f_check_lock(sqlite3_file *p, int *out)
{
    struct ffile *f = (struct ffile *)p;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int f_control(sqlite3_file *p, int op, void *arg)
{
    struct ffile *f = (struct ffile *)p;
    return f->real->pMethods->xFileControl(f->real, op, arg);
}

static int f_sector(sqlite3_file *p)
{
    struct ffile *f = (struct ffile *)p;
    return f->real->pMethods->xSectorSize(f->real);
}

static int f_device(sqlite3_file *p)
{
    struct ffile *f = (struct ffile *)p;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int f_shm_map(sqlite3_file *p, int pg, int pgsz, int extend, void volatile **out)
{
    struct ffile *f = (struct ffile *)p;
    return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, out);
}

static int f_shm_lock(sqlite3_file *p, int offset, int n, int flags)
{
    struct ffile *f = (struct ffile *)p;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void f_shm_barrier(sqlite3_file *p)
{
    struct ffile *f = (struct ffile *)p;
    f->real->pMethods->xShmBarrier(f->real);
}

static int f_shm_unmap(sqlite3_file *p, int del)
{
    struct ffile *f = (struct ffile *)p;
    return f->real->pMethods->xShmUnmap(f->real, del);
}

/* Version 2: no memory-mapped I/O (xFetch), so every page read goes through f_read. */
static const sqlite3_io_methods f_methods = {
    .iVersion = 2,
    .xClose = f_close,
    .xRead = f_read,
    .xWrite = f_write,
    .xTruncate = f_truncate,
    .xSync = f_sync,
    .xFileSize = f_size,
    .xLock = f_lock,
    .xUnlock = f_unlock,
    .xCheckReservedLock = f_check_lock,
    .xFileControl = f_control,
    .xSectorSize = f_sector,
    .xDeviceCharacteristics = f_device,
    .xShmMap = f_shm_map,
    .xShmLock = f_shm_lock,
    .xShmBarrier = f_shm_barrier,
    .xShmUnmap = f_shm_unmap,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *p, int flags, int *out_flags)
{
    struct ffile *f = (struct ffile *)p;
    int rc;

    (void)vfs;
    f->real = (sqlite3_file *)(f + 1);
    f->kind = flags & SQLITE_OPEN_MAIN_DB ? STORE_FAULT_DB
              : flags & SQLITE_OPEN_WAL   ? STORE_FAULT_WAL
                                          : STORE_FAULT_ANY;
    rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out_flags);
    /* sqlite calls xClose only when pMethods is set; the real file says whether it is open. */
    f->base.pMethods = rc == SQLITE_OK && f->real->pMethods != NULL ? &f_methods : NULL;
    return rc;
}

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int v_full(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return real_vfs->xDlOpen(real_vfs, name);
}

static void v_dlerror(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    real_vfs->xDlError(real_vfs, n, out);
}

static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return real_vfs->xDlSym(real_vfs, h, sym);
}

static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    real_vfs->xDlClose(real_vfs, h);
}

static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xRandomness(real_vfs, n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return real_vfs->xSleep(real_vfs, us);
}

static int v_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return real_vfs->xCurrentTime(real_vfs, out);
}

static int v_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return real_vfs->xGetLastError(real_vfs, n, out);
}

static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static sqlite3_vfs fault_vfs = {
    .iVersion = 2,
    .zName = "imd-test-fault",
    .xOpen = v_open,
    .xDelete = v_delete,
    .xAccess = v_access,
    .xFullPathname = v_full,
    .xDlOpen = v_dlopen,
    .xDlError = v_dlerror,
    .xDlSym = v_dlsym,
    .xDlClose = v_dlclose,
    .xRandomness = v_random,
    .xSleep = v_sleep,
    .xCurrentTime = v_time,
    .xGetLastError = v_last_error,
    .xCurrentTimeInt64 = v_time64,
};

int store_fault_install(void)
{
    if (real_vfs != NULL)
        return 0;
    sqlite3_vfs *dflt = sqlite3_vfs_find(NULL);
    if (dflt == NULL || dflt->iVersion < 2) {
        fprintf(stderr, "store_fault_install: no default VFS of version 2 or later\n");
        return -1;
    }
    fault_vfs.szOsFile = (int)sizeof(struct ffile) + dflt->szOsFile;
    fault_vfs.mxPathname = dflt->mxPathname;
    real_vfs = dflt;
    if (sqlite3_vfs_register(&fault_vfs, 1) != SQLITE_OK) {
        real_vfs = NULL;
        fprintf(stderr, "store_fault_install: sqlite3_vfs_register failed\n");
        return -1;
    }
    return 0;
}

void store_fault_arm(enum store_fault_op op, enum store_fault_file file, int skip, int times,
                     int code)
{
    arm.op = op;
    arm.file = file;
    arm.skip = skip;
    arm.times = times;
    arm.code = code;
    arm.hits = 0;
    arm.calls = 0;
    arm.armed = true;
}

void store_fault_disarm(void)
{
    arm.armed = false;
}

int store_fault_hits(void)
{
    return arm.hits;
}

int64_t store_fault_calls(void)
{
    return arm.calls;
}
