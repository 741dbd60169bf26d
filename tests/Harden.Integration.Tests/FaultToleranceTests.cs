using System.Diagnostics;
using System.Text.Json;

namespace Harden.Integration.Tests;

/// <summary>Odd files, saved plans that no longer hold, runs undone out of order, and errors a script can read.</summary>
public sealed class FaultToleranceTests : RootTest
{
    [Test]
    public async Task A_fifo_in_place_of_a_managed_file_is_refused_not_waited_on()
    {
        var args = await WithOperatorAsync();
        File.Delete(Root.Map("/etc/issue.net"));
        await DebianRoot.Run("mkfifo", [Root.Map("/etc/issue.net")]);
        var before = await EtcAsync();

        var clock = Stopwatch.StartNew();
        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]).WaitAsync(TimeSpan.FromSeconds(30));
        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]).WaitAsync(TimeSpan.FromSeconds(30));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(20)));
            Assert.That(plan.ExitCode, Is.EqualTo(1), plan.ToString());
            Assert.That(plan.Error, Does.Contain("/etc/issue.net is a FIFO, not a regular file"));
            Assert.That(apply.ExitCode, Is.EqualTo(1), apply.ToString());
        }
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task A_huge_managed_file_is_refused_before_it_is_read()
    {
        var args = await WithOperatorAsync();
        await using (var huge = File.Open(Root.Map("/etc/issue.net"), FileMode.Truncate)) huge.SetLength(64L << 20);

        var plan = await Harden(["plan", "--profile", "debian-hipaa", .. args]);

        Assert.That(plan.ExitCode, Is.EqualTo(1), plan.ToString());
        Assert.That(plan.Error, Does.Contain("/etc/issue.net is a file of 67108864 bytes (harden manages files up to 16 MiB)"));
    }

    [Test]
    public async Task Json_output_is_one_document_on_every_exit_code()
    {
        await Root.AddUserAsync("bob", withKey: false);
        var refused = await Harden("apply", "--profile", "debian-hipaa", "--root", Root.Path, "--yes", "--operator", "bob", "--format", "json");
        var unknown = await Harden("plan", "--profile", "no-such-profile", "--root", Root.Path, "--format", "json");
        using (Assert.EnterMultipleScope())
        {
            foreach (var (run, code) in new[] { (refused, 3), (unknown, 1) })
            {
                Assert.That(run.ExitCode, Is.EqualTo(code), run.ToString());
                using var doc = JsonDocument.Parse(run.Out);
                Assert.That(doc.RootElement.GetProperty("format_version").GetInt32(), Is.EqualTo(2));
                Assert.That(doc.RootElement.GetProperty("outcome").GetString(), Is.EqualTo("error"));
                Assert.That(doc.RootElement.GetProperty("exit_code").GetInt32(), Is.EqualTo(code));
                Assert.That(doc.RootElement.GetProperty("error").GetString(), Is.Not.Empty);
            }
        }
    }

    [Test]
    public async Task A_saved_plan_is_checked_again_the_lockout_guard_included()
    {
        var args = await WithOperatorAsync();
        var planFile = Path.Combine(Path.GetDirectoryName(Root.Path)!, Path.GetFileName(Root.Path) + ".saved.json");
        try
        {
            Assert.That((await Harden(["plan", "--profile", "debian-hipaa", "--out", planFile, .. args])).ExitCode, Is.Zero);
            var before = await EtcAsync();

            // The operator's key goes away after the plan was saved: the saved plan does not bypass the guard.
            var keys = Root.Map("/home/alice/.ssh/authorized_keys");
            var key = await File.ReadAllTextAsync(keys);
            File.Delete(keys);
            var locked = await Harden("apply", planFile, "--yes");
            Assert.That(locked.ExitCode, Is.EqualTo(3), locked.ToString());
            Assert.That(locked.Error, Does.Contain("alice has no key"));
            await File.WriteAllTextAsync(keys, key);

            // A plan file edited by hand (another file digest) is stale, whatever it claims.
            var text = await File.ReadAllTextAsync(planFile);
            using var doc = JsonDocument.Parse(text);
            var sha = doc.RootElement.GetProperty("changes").EnumerateArray()
                .First(c => c.GetProperty("address").GetString() == "file:/etc/issue.net").GetProperty("after").GetProperty("sha256").GetString()!;
            await File.WriteAllTextAsync(planFile, text.Replace(sha, new string('0', 64), StringComparison.Ordinal));
            var edited = await Harden("apply", planFile, "--yes");
            Assert.That(edited.ExitCode, Is.EqualTo(1), edited.ToString());
            Assert.That(edited.Error, Does.Contain("stale plan").And.Contain("file:/etc/issue.net"));
            AssertUnchanged(before, await EtcAsync());
        }
        finally
        {
            File.Delete(planFile);
        }
    }

    [Test]
    public async Task Runs_are_undone_newest_first()
    {
        var args = await WithOperatorAsync();
        var before = await EtcAsync();
        Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args])).ExitCode, Is.Zero);
        var first = Path.GetFileName(Directory.GetDirectories(Root.Map("/var/lib/harden/runs")).Single());
        Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", "--set", "session_timeout=600", .. args])).ExitCode, Is.Zero);
        var second = Directory.GetDirectories(Root.Map("/var/lib/harden/runs")).Select(Path.GetFileName).Single(d => d != first);

        var outOfOrder = await Harden("rollback", "--root", Root.Path, "--run", first, "--yes");
        Assert.That(outOfOrder.ExitCode, Is.EqualTo(1), outOfOrder.ToString());
        Assert.That(outOfOrder.Error, Does.Contain($"older than run(s) still applied ({second})").And.Contain($"--run {second}"));

        Assert.That((await Harden("rollback", "--root", Root.Path, "--yes")).Out, Does.Contain($"Rolled back run {second}"));
        Assert.That(Root.ReadText("/etc/profile.d/hipaa-timeout.sh"), Does.Contain("900"));
        Assert.That((await Harden("rollback", "--root", Root.Path, "--yes")).Out, Does.Contain($"Rolled back run {first}"));
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task A_forced_rollback_keeps_the_admins_edit_beside_the_file()
    {
        var args = await WithOperatorAsync();
        var original = Root.ReadText("/etc/issue.net");
        Assert.That((await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args])).ExitCode, Is.Zero);
        var run = Path.GetFileName(Directory.GetDirectories(Root.Map("/var/lib/harden/runs")).Single());
        await File.AppendAllTextAsync(Root.Map("/etc/issue.net"), "Authorised use only - Clinic IT\n");

        var kept = await Harden("rollback", "--root", Root.Path, "--yes");
        Assert.That(kept.ExitCode, Is.EqualTo(6), kept.ToString());
        Assert.That(kept.Error, Does.Contain("+Authorised use only - Clinic IT").And.Contain("--force"));

        var forced = await Harden("rollback", "--root", Root.Path, "--yes", "--force");
        var saved = Root.Map($"/etc/issue.net.harden-saved-{run}");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(forced.ExitCode, Is.Zero, forced.ToString());
            Assert.That(forced.Out, Does.Contain($"kept the edit made since the run in /etc/issue.net.harden-saved-{run}"));
            Assert.That(Root.ReadText("/etc/issue.net"), Is.EqualTo(original));
            Assert.That(File.ReadAllText(saved), Does.EndWith("Authorised use only - Clinic IT\n"));
            Assert.That(File.GetUnixFileMode(saved), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
        }
    }

    private async Task<string> ApplyAsync(params string[] extra)
    {
        var args = await WithOperatorAsync(extra);
        var apply = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        return Directory.GetDirectories(Root.Map("/var/lib/harden/runs")).Single();
    }

    [Test]
    public async Task A_missing_backup_is_reported_with_its_fix_and_everything_else_is_restored()
    {
        var original = Root.ReadText("/etc/issue.net");
        var run = await ApplyAsync();
        using (var doc = JsonDocument.Parse(await File.ReadAllTextAsync(run + "/manifest.json")))
        {
            var copy = doc.RootElement.GetProperty("backups").EnumerateArray()
                .First(b => b.GetProperty("path").GetString() == "/etc/security/pwquality.conf").GetProperty("copy").GetString()!;
            File.Delete(Path.Combine(run, copy));
        }

        var rollback = await Harden("rollback", "--root", Root.Path, "--yes");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(rollback.ExitCode, Is.EqualTo(5), rollback.ToString());
            Assert.That(rollback.Error, Does.Contain("file:/etc/security/pwquality.conf (the backup of /etc/security/pwquality.conf is missing"));
            Assert.That(rollback.Error, Does.Contain($"harden rollback --root {Root.Path} --run {Path.GetFileName(run)}"));
            Assert.That(Root.ReadText("/etc/issue.net"), Is.EqualTo(original), "the rest was restored");
            Assert.That(File.Exists(Root.Map("/etc/ssh/sshd_config.d/00-hipaa.conf")), Is.False);
        }
    }

    [Test]
    public async Task A_target_that_became_a_symlink_is_not_followed_by_rollback()
    {
        var outside = Path.Combine(Path.GetTempPath(), $"harden-canary-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(outside, "canary\n");
        try
        {
            await ApplyAsync();
            File.Delete(Root.Map("/etc/issue.net"));
            File.CreateSymbolicLink(Root.Map("/etc/issue.net"), outside);

            var rollback = await Harden("rollback", "--root", Root.Path, "--yes", "--force");

            Assert.That(rollback.ExitCode, Is.EqualTo(6), rollback.ToString());
            Assert.That(rollback.Error, Does.Contain("/etc/issue.net: is now a symlink"));
            Assert.That(await File.ReadAllTextAsync(outside), Is.EqualTo("canary\n"), "nothing was written through the link");
        }
        finally
        {
            File.Delete(outside);
        }
    }

    [Test]
    public async Task A_run_folder_that_is_a_symlink_is_refused_and_nothing_outside_changes()
    {
        var run = await ApplyAsync();
        var outside = Directory.CreateTempSubdirectory("harden-outside-").FullName;
        try
        {
            foreach (var f in Directory.GetFiles(run)) File.Copy(f, Path.Combine(outside, Path.GetFileName(f)));
            var canary = await File.ReadAllTextAsync(Path.Combine(outside, "manifest.json"));
            Directory.Move(run, run + ".moved");
            Directory.CreateSymbolicLink(run, outside);

            var rollback = await Harden("rollback", "--root", Root.Path, "--run", Path.GetFileName(run), "--yes");

            Assert.That(rollback.ExitCode, Is.EqualTo(1), rollback.ToString());
            Assert.That(rollback.Error, Does.Contain("the run folder is a symlink"));
            Assert.That(await File.ReadAllTextAsync(Path.Combine(outside, "manifest.json")), Is.EqualTo(canary));
        }
        finally
        {
            Directory.Delete(outside, recursive: true);
        }
    }

    [Test]
    public async Task A_read_only_folder_fails_the_apply_and_everything_is_restored()
    {
        var args = await WithOperatorAsync("--format", "json");
        var before = await EtcAsync();
        var security = Root.Map("/etc/security");
        await DebianRoot.Run("mount", ["--bind", security, security]);
        try
        {
            await DebianRoot.Run("mount", ["-o", "remount,bind,ro", security]);

            var run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

            using var doc = JsonDocument.Parse(run.Out);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(run.ExitCode, Is.EqualTo(4), run.ToString());
                Assert.That(run.Error, Does.Contain("host restored").And.Contain("Read-only file system"));
                Assert.That(doc.RootElement.GetProperty("exit_code").GetInt32(), Is.EqualTo(4), "JSON on exit 4 too");
            }
        }
        finally
        {
            await DebianRoot.Run("umount", [security]);
        }
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task A_quote_in_a_value_never_reaches_the_rsyslog_configuration()
    {
        var args = await WithOperatorAsync("--set", "log_server=logs.example.org",
            "--set", "log_queue_max_disk=1g\") action(type=\"omfwd\" target=\"203.0.113.9\" port=\"514\" protocol=\"tcp");
        var before = await EtcAsync();

        var run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

        Assert.That(run.ExitCode, Is.EqualTo(1), run.ToString());
        Assert.That(run.Error, Does.Contain("log_queue_max_disk").And.Contain("may contain only letters"));
        AssertUnchanged(before, await EtcAsync());
        Assert.That(File.Exists(Root.Map("/etc/rsyslog.d/60-hipaa-remote.conf")), Is.False);
    }

    [TestCase("/etc/ssh/sshd_config.d", "12k", 4, "host restored")]
    [TestCase("/var/lib/harden", "24k", 1, "nothing was changed")]
    // Room for the run to start and change things (a few kilobytes), not to record its restore: the host is back, so exit 4, never 5.
    [TestCase("/var/lib/harden", "64k", 4, "The host is as before, but run", 28)]
    [TestCase("/var/lib/harden", "128k", 4, "The host is as before, but run", 92)]
    [TestCase("/var/lib/harden", "192k", 4, "The host is as before, but run", 156)]
    public async Task A_full_disk_fails_the_apply_with_the_truth_and_the_host_as_before(string folder, string size, int code, string says, int fill = 64)
    {
        var args = await WithOperatorAsync();
        var before = await EtcAsync();
        var full = Root.Map(folder);
        Directory.CreateDirectory(full);
        var kept = Directory.GetFiles(full).ToDictionary(f => f, File.ReadAllBytes);
        // The folder's own mode (tmpfs would make it 1777, which harden refuses for its state folder).
        var mode = folder == "/var/lib/harden" ? "0700" : "0755";
        await DebianRoot.Run("mount", ["-t", "tmpfs", "-o", $"size={size},mode={mode}", "harden-full", full]);
        CliRun run;
        try
        {
            foreach (var (f, bytes) in kept) await File.WriteAllBytesAsync(f, bytes);
            // Fill what is left, as a disk that is nearly full.
            await DebianRoot.Run("sh", ["-c", $"dd if=/dev/zero of={full}/filler bs=1k count={fill} 2>/dev/null; true"]);
            run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);
        }
        finally
        {
            await DebianRoot.Run("umount", [full]);
        }
        using (Assert.EnterMultipleScope())
        {
            Assert.That(run.ExitCode, Is.EqualTo(code), run.ToString());
            Assert.That(run.Error, Does.Contain("No space left on device").And.Contain(says));
        }
        AssertUnchanged(before, await EtcAsync());
    }

    [Test]
    public async Task An_immutable_file_fails_the_apply_and_everything_is_restored()
    {
        if (!File.Exists("/dev/loop-control")) Assert.Ignore("this machine has no loop devices to mount an ext4 image on");
        var args = await WithOperatorAsync();
        // chattr needs a real file system: /etc/security on a small ext4 image, with its files copied in.
        var image = Root.Path + ".security.img";
        var saved = Directory.CreateTempSubdirectory("harden-security-").FullName;
        var security = Root.Map("/etc/security");
        await DebianRoot.Run("cp", ["-a", security + "/.", saved]);
        await DebianRoot.Run("truncate", ["-s", "16M", image]);
        await DebianRoot.Run("mkfs.ext4", ["-q", "-F", image]);
        await DebianRoot.Run("mount", ["-o", "loop", image, security]);
        try
        {
            await DebianRoot.Run("cp", ["-a", saved + "/.", security]);
            await DebianRoot.Run("chattr", ["+i", security + "/pwquality.conf"]);
            var before = await EtcAsync();

            var run = await Harden(["apply", "--profile", "debian-hipaa", "--yes", .. args]);

            using (Assert.EnterMultipleScope())
            {
                Assert.That(run.ExitCode, Is.EqualTo(4), run.ToString());
                Assert.That(run.Error, Does.Contain("host restored").And.Contain("/etc/security/pwquality.conf"));
            }
            AssertUnchanged(before, await EtcAsync());
        }
        finally
        {
            await DebianRoot.Run("chattr", ["-i", security + "/pwquality.conf"]);
            await DebianRoot.Run("umount", [security]);
            File.Delete(image);
            Directory.Delete(saved, recursive: true);
        }
    }
}
