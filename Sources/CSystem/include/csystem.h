#ifndef INPARS_CSYSTEM_H
#define INPARS_CSYSTEM_H

/* System calls the Swift Glibc module does not export. Imported by InparsCore only. */

/// Starts writing the dirty pages of `length` bytes of `fd` from `offset` to disk without
/// waiting (Linux `sync_file_range(SYNC_FILE_RANGE_WRITE)`), so that a later `fsync` has
/// less left to wait for. Returns 0, or -1 with `errno` set; a no-op returning 0 elsewhere.
int inpars_start_writeback(int fd, long long offset, long long length);

#endif
