// The code under test is Linux-only (modes, owners, chroot).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
