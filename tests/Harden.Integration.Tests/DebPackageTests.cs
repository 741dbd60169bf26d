using CliWrap.Buffered;
using Harden.Integration.Tests.Vm;

namespace Harden.Integration.Tests;

/// <summary>
/// The Debian package, built by packaging/build-deb.sh from the NativeAOT binary the VM tests use
/// (<see cref="PublishedHarden.DebAsync"/>):
/// lintian finds nothing (each override justified in the package), it installs into fresh Debian 11,
/// 12 and 13 roots, which have no .NET, and harden runs there; removing it leaves the hardening in
/// place and says how to roll back.
/// </summary>
[NonParallelizable]
public sealed class DebPackageTests
{
    [Test]
    public async Task Lintian_finds_nothing_and_the_package_holds_what_it_should()
    {
        await DebianRoot.EnsurePackagesAsync("lintian");
        var deb = await PublishedHarden.DebAsync();
        Assert.That(Path.GetFileName(deb), Does.Match(@"^harden_\d+\.\d+\.\d+_amd64\.deb$"));
        var lintian = await DebianRoot.Run("lintian", ["--fail-on", "error,warning", "--tag-display-limit", "0", deb]);
        Assert.That(lintian.ExitCode, Is.Zero, lintian.StandardOutput + lintian.StandardError);
        Assert.That(lintian.StandardOutput.Split('\n').Where(l => l.StartsWith("E:", StringComparison.Ordinal) || l.StartsWith("W:", StringComparison.Ordinal)), Is.Empty);
        var contents = (await DebianRoot.Run("dpkg-deb", ["--contents", deb])).StandardOutput;
        foreach (var path in (string[])["./usr/bin/harden", "./usr/share/man/man1/harden.1.gz", "./usr/share/bash-completion/completions/harden", "./usr/share/zsh/vendor-completions/_harden",
            "./usr/lib/systemd/system/harden-check.timer", "./usr/share/harden/profiles/debian-hipaa.yaml", "./usr/share/harden/templates/ssh/00-hipaa.conf.sbn"])
            Assert.That(contents, Does.Contain(path), path);
        Assert.That(contents, Does.Match(@"drwx------ root/root\s+0 \S+ \S+ \./var/lib/harden/"));
        var control = (await DebianRoot.Run("dpkg-deb", ["--field", deb, "Depends"])).StandardOutput;
        Assert.That(control, Does.Match(@"libc6 \(>= 2\.(2\d|3[01])\)"), "the glibc the binary was linked against: Debian 11's 2.31 or older");
    }

    [TestCase("bullseye")]
    [TestCase("bookworm")]
    [TestCase("trixie")]
    public async Task Installs_runs_without_dotnet_and_removes_leaving_the_hardening(string suite)
    {
        var deb = await PublishedHarden.DebAsync();
        using var root = await DebianRoot.CreateAsync(suite);
        File.Copy(deb, root.Map("/tmp/harden.deb"));
        Assert.That(File.Exists(root.Map("/usr/bin/dotnet")) || Directory.Exists(root.Map("/usr/share/dotnet")), Is.False, "the root has no .NET");
        var install = await root.Chroot("dpkg", "-i", "/tmp/harden.deb");
        Assert.That(install.ExitCode, Is.Zero, install.StandardOutput + install.StandardError);
        Assert.That(Convert.ToString((int)File.GetUnixFileMode(root.Map("/var/lib/harden")), 8), Is.EqualTo("700"));

        var version = await root.Chroot("harden", "version");
        Assert.That(version.StandardOutput, Does.Contain("build: NativeAOT").And.Contain("debian-hipaa"), version.StandardError);
        var plan = await root.Chroot("harden", "plan", "--profile", "debian-hipaa");
        Assert.That(plan.ExitCode, Is.Zero, plan.StandardOutput + plan.StandardError);
        Assert.That(plan.StandardOutput, Does.Contain("Plan: ").And.Contain("to create"));
        // Inside a chroot, / is not init's root: an offline root, whose handlers never reach this machine's kernel.
        Assert.That(plan.StandardOutput, Does.Contain("Profile debian-hipaa on / (offline root)"));
        Assert.That(plan.StandardOutput, Does.Contain("augenrules").And.Not.Contain("augenrules --load"));
        var man = await root.Chroot("sh", "-c", "zcat /usr/share/man/man1/harden.1.gz | head -n 1");
        Assert.That(man.StandardOutput, Does.StartWith(".TH HARDEN 1"));
        var completion = await root.Chroot("bash", "-c",
            "source /usr/share/bash-completion/completions/harden; COMP_LINE='harden check --form'; COMP_POINT=${#COMP_LINE}; COMP_WORDS=(harden check --form); COMP_CWORD=2; _harden; printf '%s\\n' \"${COMPREPLY[@]}\"");
        Assert.That(completion.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[] { "--format" }), completion.StandardError);
        // Debian 11's systemd-analyze (247) cannot start its manager in a chroot ("Cannot determine
        // cgroup we are running in"); the unit files are the same on every release.
        if (suite != "bullseye")
        {
            var units = await root.Chroot("systemd-analyze", "verify", "/usr/lib/systemd/system/harden-check.service", "/usr/lib/systemd/system/harden-check.timer");
            Assert.That(units.ExitCode, Is.Zero, units.StandardOutput + units.StandardError);
        }

        // Harden the root (from here, through --root), then remove the package: the hardening stays, and dpkg says how to undo it.
        await root.AddUserAsync("alice", withKey: true);
        var apply = await HardenCli.RunAsync("apply", "--profile", "debian-hipaa", "--root", root.Path, "--yes", "--set", "ssh_allow_members=alice", "--operator", "alice");
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        var remove = await root.Chroot("dpkg", "-r", "harden");
        Assert.That(remove.ExitCode, Is.Zero, remove.StandardOutput + remove.StandardError);
        Assert.That(remove.StandardError, Does.Contain("run 'harden rollback'"));
        Assert.That(File.Exists(root.Map("/usr/bin/harden")), Is.False);
        Assert.That(File.Exists(root.Map("/etc/ssh/sshd_config.d/00-hipaa.conf")), "the hardening stays");
        Assert.That(Directory.GetDirectories(root.Map("/var/lib/harden/runs")), Is.Not.Empty, "and so do the run journals");
    }
}
