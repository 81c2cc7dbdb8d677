/* Wine 8 lacks bcryptprimitives.dll, from which Rust's standard library (1.78+) imports ProcessPrng;
 * without it every Rust program stops at start with STATUS_DLL_NOT_FOUND (c0000135). Windows 10 and later
 * ship the real DLL, so this shim exists only for the Wine test runs: it forwards to BCryptGenRandom with
 * the system-preferred generator, which Wine implements. */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
