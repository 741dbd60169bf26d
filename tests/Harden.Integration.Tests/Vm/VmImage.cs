using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Harden.Integration.Tests.Vm;

/// <summary>
/// A bootable Debian disk image (ext4 made with <c>mkfs.ext4 -d</c> from an mmdebstrap root with a
/// kernel, systemd, sshd, auditd, cloud-init and the profile's packages), with the kernel and initrd
/// beside it. Built once by Vm/build-image.sh and cached like the test roots: the key covers the
/// suite, the package list and the build script, so changing either builds a new image.
/// </summary>
public sealed record VmImage(string Suite, string Disk, string Kernel, string Initrd)
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static readonly Dictionary<string, VmImage> Built = [];

    private static string Script => Path.Combine(AppContext.BaseDirectory, "Vm", "build-image.sh");

    /// <summary>Returns the cached image for <paramref name="suite"/>, building it first (a few minutes, once) if needed.</summary>
    /// <param name="packageList">The packages besides the kernel, cloud-init and the like: the test roots' list unless given (a lived-in image has fewer).</param>
    public static async Task<VmImage> EnsureAsync(string suite = DebianRoot.Suite, IReadOnlyList<string>? packageList = null)
    {
        await Gate.WaitAsync();
        try
        {
            var packages = string.Join(",", packageList ?? DebianRoot.Packages);
            if (Built.TryGetValue($"{suite}|{packages}", out var known)) return known;
            await DebianRoot.EnsurePackagesAsync("mmdebstrap", "qemu-system-x86", "qemu-utils", "genisoimage");
            var key = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(
                $"vm|{suite}|{packages}|{await File.ReadAllTextAsync(Script)}")))[..12];
            var dir = Path.Combine(DebianRoot.CacheDirectory, $"vm-{suite}-{key}");
            if (!File.Exists(Path.Combine(dir, "disk.qcow2")))
            {
                TestContext.Progress.WriteLine($"harden tests: building a bootable Debian {suite} image into {dir} (a few minutes, once)…");
                var partial = $"{dir}.partial-{Environment.ProcessId}";
                var clock = Stopwatch.StartNew();
                await DebianRoot.Run("bash", [Script, suite, partial, packages]);
                if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
                Directory.Move(partial, dir);
                TestContext.Progress.WriteLine($"harden tests: VM image for {suite} built in {clock.Elapsed.TotalSeconds:0} s.");
            }
            var image = new VmImage(suite, Path.Combine(dir, "disk.qcow2"), Path.Combine(dir, "vmlinuz"), Path.Combine(dir, "initrd.img"));
            Built[$"{suite}|{packages}"] = image;
            return image;
        }
        finally
        {
            Gate.Release();
        }
    }
}
