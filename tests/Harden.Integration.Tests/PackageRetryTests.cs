using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Harden.Integration.Tests;

/// <summary>
/// A package install meets a dpkg lock held by another apt run, as unattended-upgrades does at first
/// boot. Offline and real: a local apt repository inside the root with two tiny packages, one of
/// which holds the lock while its preinst script runs.
/// </summary>
public sealed class PackageRetryTests : RootTest
{
    private async Task BuildLocalRepositoryAsync()
    {
        var repo = Root.Map("/srv/harden-repo");
        Directory.CreateDirectory(repo);
        var build = Directory.CreateTempSubdirectory("harden-deb-").FullName;
        var index = new StringBuilder();
        try
        {
            foreach (var (name, preinst) in new[] { ("harden-test-slow", "#!/bin/sh\ntouch /slow-started\nsleep 5\n"), ("harden-test-dummy", "") })
            {
                var dir = Path.Combine(build, name, "DEBIAN");
                Directory.CreateDirectory(dir);
                await File.WriteAllTextAsync(Path.Combine(dir, "control"),
                    $"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: harden tests <tests@harden.invalid>\nDescription: test package\n");
                if (preinst.Length > 0)
                {
                    await File.WriteAllTextAsync(Path.Combine(dir, "preinst"), preinst);
                    File.SetUnixFileMode(Path.Combine(dir, "preinst"), (UnixFileMode)Convert.ToInt32("755", 8));
                }
                var deb = Path.Combine(repo, $"{name}_1.0_all.deb");
                await DebianRoot.Run("dpkg-deb", ["--build", "--root-owner-group", Path.Combine(build, name), deb]);
                var bytes = await File.ReadAllBytesAsync(deb);
                index.Append($"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: harden tests <tests@harden.invalid>\n")
                    .Append($"Filename: ./{Path.GetFileName(deb)}\nSize: {bytes.Length}\nSHA256: {Convert.ToHexStringLower(SHA256.HashData(bytes))}\n")
                    .Append("Description: test package\n\n");
            }
        }
        finally
        {
            Directory.Delete(build, recursive: true);
        }
        await File.WriteAllTextAsync(Path.Combine(repo, "Packages"), index.ToString());
        foreach (var f in Directory.GetFiles(Root.Map("/etc/apt/sources.list.d"))) File.Delete(f);
        await File.WriteAllTextAsync(Root.Map("/etc/apt/sources.list"), "deb [trusted=yes] file:/srv/harden-repo ./\n");
        var update = await Root.Chroot("apt-get", "update", "-qq");
        Assert.That(update.ExitCode, Is.Zero, update.StandardError);
    }

    [Test]
    public async Task A_held_dpkg_lock_is_waited_out_and_the_package_installed()
    {
        await BuildLocalRepositoryAsync();
        var profile = Path.Combine(Root.Path, "..", Path.GetFileName(Root.Path) + "-retry.yaml");
        await File.WriteAllTextAsync(profile,
            $"name: {Path.GetFileNameWithoutExtension(profile)}\nextends: debian-hipaa\nmodules:\n  - id: dummy\n    citations: [\"164.312(b)\"]\n    packages: [harden-test-dummy]\n");
        try
        {
            var args = await WithOperatorAsync();
            var holder = new ProcessStartInfo("chroot") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var a in (string[])[Root.Path, "apt-get", "install", "-y", "harden-test-slow"]) holder.ArgumentList.Add(a);
            using var other = Process.Start(holder)!;
            while (!File.Exists(Root.Map("/slow-started")))
            {
                Assert.That(other.HasExited, Is.False, "the lock holder ended early");
                await Task.Delay(50);
            }

            var plan = await Harden(["plan", "--profile", profile, .. args]);
            var apply = await Harden(["apply", "--profile", profile, "--yes", .. args]);
            await other.WaitForExitAsync();

            using (Assert.EnterMultipleScope())
            {
                Assert.That(plan.Out, Does.Contain("+ package:harden-test-dummy"));
                Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
                Assert.That(apply.Out, Does.Contain("the package manager is locked by another process; retry"));
                Assert.That((await Root.Chroot("dpkg-query", "-W", "-f", "${Status}", "harden-test-dummy")).StandardOutput, Is.EqualTo("install ok installed"));
            }

            // Rollback purges exactly what the run installed, with dpkg (never apt's autoremove).
            var rollback = await Harden("rollback", "--root", Root.Path, "--yes");
            Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
            Assert.That(rollback.Out, Does.Contain("$ dpkg --purge harden-test-dummy"));
            Assert.That((await Root.Chroot("dpkg-query", "-W", "-f", "${Status}", "harden-test-dummy")).StandardOutput, Is.Not.EqualTo("install ok installed"));
        }
        finally
        {
            File.Delete(profile);
        }
    }
}
