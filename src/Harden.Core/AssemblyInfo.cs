// harden manages Linux hosts only: modes, owners, chroot and fsync semantics are POSIX.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
