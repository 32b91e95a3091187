/**
 * Whether a process id names a live process on this host: a leaf module for the places that judge
 * whether something a process left behind (a torn checkpoint save, a sandbox uid claim) is still in use.
 */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to another user
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
