namespace Harden.Integration.Tests;

/// <summary>
/// Values and host files that used to make harden exit 0 and leave a host worse off (issue "Safety,
/// round 3"), each tried in several variants on a real root, checked with the root's own tools.
/// </summary>
public sealed class SafetyRoundThreeTests : RootTest
{
    /// <summary>
    /// A home folder written as "/home/" (or "/home//", "//home", "/home/.") is /home to the kernel.
    /// Compared as a string it once made apply tighten /home itself to 0750, after which sshd could
    /// read nobody's authorized_keys.
    /// </summary>
    [TestCase("/home/")]
    [TestCase("/home//")]
    [TestCase("//home")]
    [TestCase("/home/.")]
    public async Task A_home_written_as_home_itself_never_tightens_home_and_key_logins_still_work(string home)
    {
        var args = await WithOperatorAsync();
        var key = await LiveSshd.InstallKeyAsync(Root, "alice");
        Assert.That((await Root.Chroot("useradd", "-M", "-d", home, "-s", "/bin/bash", "eve")).ExitCode, Is.Zero);
        var before = File.GetUnixFileMode(Root.Map("/home"));

        var apply = await Harden(["apply", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        Assert.That(File.GetUnixFileMode(Root.Map("/home")), Is.EqualTo(before), "/home keeps its mode");
        Assert.That(apply.Out, Does.Not.Contain("mode:/home "));
        Assert.That(File.GetUnixFileMode(Root.Map("/home/alice")), Is.EqualTo((UnixFileMode)Convert.ToInt32("750", 8)), "a real home below /home is still tightened");

        await using var sshd = await LiveSshd.StartAsync(Root);
        var login = await sshd.LoginWithKeyAsync("alice", key, "id -un");
        Assert.That(login.Succeeded, $"{login}\n{sshd.Log}");
    }

    /// <summary>Times of day are checked the way systemd reads OnCalendar, before anything is written.</summary>
    [Test]
    public async Task Timer_times_systemd_cannot_read_are_refused_before_any_write_and_those_it_reads_are_taken()
    {
        var args = await WithOperatorAsync("--set", "drift_check=true");
        var etc = await EtcAsync();
        foreach (var bad in new[] { "99:99", "25:00", "4", "12:60", "24:00", "04:00:61", "noon" })
        {
            var calendar = await Root.Chroot("systemd-analyze", "calendar", $"*-*-* {bad}");
            Assert.That(calendar.ExitCode, Is.Not.Zero, $"systemd refuses '{bad}' too");
            foreach (var variable in new[] { "drift_check_time", "clamav_scan_time", "backup_time", "automatic_reboot_time" })
            {
                var plan = await Harden(["plan", .. args, "--set", $"{variable}={bad}"]);
                Assert.That(plan.ExitCode, Is.EqualTo(1), $"{variable}={bad}: {plan}");
                Assert.That(plan.Error, Does.Contain($"variable '{variable}' (time): value '{bad}'"));
            }
        }
        foreach (var good in new[] { "4:00", "04:00", "23:59", "00:00:30", "1:2" })
        {
            var calendar = await Root.Chroot("systemd-analyze", "calendar", $"*-*-* {good}");
            Assert.That(calendar.ExitCode, Is.Zero, $"systemd takes '{good}'");
            var apply = await Harden(["plan", .. args, "--set", $"drift_check_time={good}"]);
            Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        }
        AssertUnchanged(etc, await EtcAsync());

        // And what is written is what systemd loads: the unit the accepted value renders verifies.
        var applied = await Harden(["apply", "--yes", "--root", Root.Path, "--set", "ssh_allow_members=alice", "--operator", "alice", "--set", "clamav=true", "--set", "clamav_scan_time=4:05"]);
        Assert.That(applied.ExitCode, Is.Zero, applied.ToString());
        Assert.That(Root.ReadText("/etc/systemd/system/hipaa-clamscan.timer"), Does.Contain("OnCalendar=*-*-* 04:05"));
        var verify = await Root.Chroot("systemd-analyze", "calendar", "*-*-* 04:05");
        Assert.That(verify.ExitCode, Is.Zero);
    }

    /// <summary>
    /// A backup in a run folder (a whole file's, a key's file, the sshd_config a block went into) with
    /// one byte changed: rollback refuses before it restores anything, naming the file, exit 1.
    /// </summary>
    [TestCase("/etc/ssh/sshd_config")]
    [TestCase("/etc/login.defs")]
    [TestCase("/etc/issue.net")]
    public async Task Rollback_refuses_when_one_byte_of_a_backup_changed_and_names_the_file(string path)
    {
        var args = await WithOperatorAsync();
        var apply = await Harden(["apply", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        var run = Directory.GetDirectories(Root.Map("/var/lib/harden/runs")).Single();
        var manifest = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(run, "manifest.json")));
        var copy = manifest.RootElement.GetProperty("backups").EnumerateArray()
            .Single(b => b.GetProperty("path").GetString() == path).GetProperty("copy").GetString()!;
        var backup = Path.Combine(run, copy);
        var bytes = await File.ReadAllBytesAsync(backup);
        bytes[bytes.Length / 2] ^= 0x01;
        await File.WriteAllBytesAsync(backup, bytes);
        var etc = await EtcAsync();

        var rollback = await Harden(["rollback", "--yes", "--root", Root.Path]);
        Assert.That(rollback.ExitCode, Is.EqualTo(1), rollback.ToString());
        Assert.That(rollback.Error, Does.Contain($"the backup of {path}").And.Contain("Nothing was restored"));
        AssertUnchanged(etc, await EtcAsync());
    }

    /// <summary>harden's own state writable (or the key readable) by anyone but root: every command refuses, with the fix.</summary>
    [TestCase("chmod 0777 /var/lib/harden")]
    [TestCase("chmod 0644 /var/lib/harden/journal.key")]
    [TestCase("chown 1000 /var/lib/harden/runs")]
    [TestCase("chmod g+w /var/lib/harden/runs/*")]
    [TestCase("chown 1000 /var/lib/harden/runs/*/files")]
    public async Task A_state_folder_others_could_write_is_refused_with_the_fix(string loosen)
    {
        var args = await WithOperatorAsync();
        Assert.That((await Harden(["apply", "--yes", .. args])).ExitCode, Is.Zero);
        var done = await Root.Chroot("sh", "-c", loosen);
        Assert.That(done.ExitCode, Is.Zero, done.StandardError);
        string[][] commands = [["plan", .. args], ["rollback", "--yes", "--root", Root.Path]];
        foreach (var command in commands)
        {
            var refused = await Harden(command);
            Assert.That(refused.ExitCode, Is.EqualTo(1), $"{command[0]}: {refused}");
            Assert.That(refused.Error, Does.Contain("harden's state is not root's alone").And.Contain("chmod -R go-rwx"), refused.ToString());
        }
        // The fix it names works.
        Assert.That((await Root.Chroot("sh", "-c", "chown -R root:root /var/lib/harden && chmod -R go-rwx /var/lib/harden")).ExitCode, Is.Zero);
        Assert.That((await Harden(["plan", .. args])).ExitCode, Is.Zero);
    }

    /// <summary>
    /// The firewall admits SSH on one port, sshd listens on another: at the next boot (no timed revert
    /// there) nobody gets in. Left unset, firewall_ssh_port follows sshd's own files; set to another
    /// port than sshd's, apply refuses with exit 3 and the port to set.
    /// </summary>
    [TestCase("Port 2222\n", "2222")]
    [TestCase("ListenAddress 0.0.0.0:2222\n", "2222")]
    [TestCase("Port 22\nPort 2222\n", "{ 22, 2222 }")]
    [TestCase("", "22")]
    public async Task The_firewall_admits_the_ports_sshd_really_listens_on(string dropIn, string ports)
    {
        var args = await WithOperatorAsync("--set", "firewall=true");
        if (dropIn.Length > 0) await File.WriteAllTextAsync(Root.Map("/etc/ssh/sshd_config.d/10-port.conf"), dropIn);
        var apply = await Harden(["apply", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        var rules = Root.ReadText("/etc/nftables.conf");
        Assert.That(rules, Does.Contain($"tcp dport {ports} accept"));
        var check = await Root.Chroot("nft", "-c", "-f", "/etc/nftables.conf");
        Assert.That(check.ExitCode, Is.Zero, check.StandardError);
        // sshd itself says it listens where the rules let in.
        var listen = (await Root.Chroot("sshd", "-T")).StandardOutput.Split('\n').Where(l => l.StartsWith("port ", StringComparison.Ordinal) || l.StartsWith("listenaddress ", StringComparison.Ordinal));
        Assert.That(listen.Any(l => l.EndsWith(":" + ports.Trim('{', '}', ' ').Split(", ")[0], StringComparison.Ordinal) || l == "port " + ports.Trim('{', '}', ' ').Split(", ")[0]), string.Join("; ", listen));
    }

    [TestCase("Port 2222\n", "22", "2222")]
    [TestCase("", "2222", "22")]
    public async Task A_firewall_port_set_to_another_than_sshds_is_refused_with_the_fix(string dropIn, string port, string fix)
    {
        var args = await WithOperatorAsync("--set", "firewall=true", "--set", $"firewall_ssh_port={port}");
        if (dropIn.Length > 0) await File.WriteAllTextAsync(Root.Map("/etc/ssh/sshd_config.d/10-port.conf"), dropIn);
        var etc = await EtcAsync();
        var apply = await Harden(["apply", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.EqualTo(3), apply.ToString());
        Assert.That(apply.Error, Does.Contain($"the firewall would admit SSH on port {port} only").And.Contain($"Fix: --set firewall_ssh_port={fix}"));
        AssertUnchanged(etc, await EtcAsync());
    }

    /// <summary>A check or handler that never returns stops at --program-timeout: apply restores the host (exit 4) and names the program and the limit.</summary>
    [TestCase("/usr/sbin/sshd", "sshd")]
    [TestCase("/usr/sbin/pam-auth-update", "pam-auth-update")]
    public async Task A_program_that_hangs_is_stopped_at_its_limit_and_the_host_restored(string program, string name)
    {
        var args = await WithOperatorAsync();
        var etc = await EtcAsync();
        // The real program for everything else; a hang where apply checks or activates (sshd -t, pam-auth-update --package).
        if (name == "sshd") await WrapSshdAsync("exec sleep 600");
        else await ReplaceProgramAsync(program, "exec sleep 600");
        try
        {
            var apply = await Harden(["apply", "--yes", "--program-timeout", "3", .. args]);
            Assert.That(apply.ExitCode, Is.EqualTo(4), apply.ToString());
            Assert.That(apply.Error, Does.Contain($"{name} did not finish within 3 s").And.Contain("host restored"));
        }
        finally
        {
            RestoreProgram(program);
        }
        AssertUnchanged(etc, await EtcAsync());
    }

    /// <summary>Path variables with a role: each value that would hand a group the system, or a root job a file or program others control, is refused before any write.</summary>
    [TestCase("phi_directories=/root", "is a system folder")]
    [TestCase("phi_directories=/tmp", "is a system folder")]
    [TestCase("phi_directories=/etc", "is a system folder")]
    [TestCase("phi_directories=/usr", "is a system folder")]
    [TestCase("phi_directories=/home", "is a system folder")]
    [TestCase("phi_directories=/var/data/phi,/tmp/phi", "lies in /tmp")]
    [TestCase("phi_directories=/var/lib/harden", "lies in /var/lib/harden")]
    [TestCase("app_directories=/usr/lib", "is a system folder")]
    [TestCase("drift_check_report=/etc/shadow", "lies in /etc")]
    [TestCase("drift_check_report=/usr/bin/ls", "lies in /usr")]
    [TestCase("drift_check_program=/tmp/harden", "is not under")]
    [TestCase("drift_check_program=/var/lib/harden/harden", "is not under")]
    public async Task Path_values_outside_their_role_are_refused_before_any_write(string setting, string why)
    {
        var args = await WithOperatorAsync("--set", "drift_check=true");
        var etc = await EtcAsync();
        var plan = await Harden(["apply", "--yes", .. args, "--set", setting]);
        Assert.That(plan.ExitCode, Is.EqualTo(1), plan.ToString());
        Assert.That(plan.Error, Does.Contain($"variable '{setting.Split('=')[0]}'").And.Contain(why));
        AssertUnchanged(etc, await EtcAsync());
    }

    [Test]
    public async Task What_only_the_host_knows_a_world_writable_data_folder_or_a_program_others_could_replace_is_refused()
    {
        var args = await WithOperatorAsync("--set", "drift_check=true");
        Directory.CreateDirectory(Root.Map("/srv/drop"));
        File.SetUnixFileMode(Root.Map("/srv/drop"), (UnixFileMode)Convert.ToInt32("1777", 8));
        var drop = await Harden(["plan", .. args, "--set", "phi_directories=/srv/drop"]);
        Assert.That(drop.ExitCode, Is.EqualTo(1), drop.ToString());
        Assert.That(drop.Error, Does.Contain("/srv/drop is writable by everyone"));

        Directory.CreateDirectory(Root.Map("/usr/local/bin"));
        File.SetUnixFileMode(Root.Map("/usr/local/bin"), (UnixFileMode)Convert.ToInt32("777", 8));
        var program = await Harden(["plan", .. args, "--set", "drift_check_program=/usr/local/bin/harden"]);
        Assert.That(program.ExitCode, Is.EqualTo(1), program.ToString());
        Assert.That(program.Error, Does.Contain("/usr/local/bin is owned by uid 0 with mode 0777"));

        // A path written with extra slashes is the same folder, normalised, and accepted.
        var normal = await Harden(["plan", "--format", "json", .. args, "--set", "phi_directories=/var/data//phi/"]);
        Assert.That(normal.ExitCode, Is.Zero, normal.ToString());
        Assert.That(normal.Out, Does.Contain("\"dir:/var/data/phi\"").Or.Contain("dir:/var/data/phi"));
    }

    /// <summary>report merge reads each report as strictly as its schema: nulls, unknown or repeated keys and a host given twice are refused, never merged, never a stack trace.</summary>
    [Test]
    public async Task Report_merge_refuses_reports_that_break_the_schema_and_the_same_host_twice()
    {
        await WithOperatorAsync();
        var dir = Directory.CreateTempSubdirectory("harden-merge-");
        try
        {
            var good = Path.Combine(dir.FullName, "db.json");
            await Harden(["check", "--format", "json", "--out", good, "--root", Root.Path, "--set", "ssh_allow_members=alice"]);
            var text = await File.ReadAllTextAsync(good);
            var id = System.Text.Json.JsonDocument.Parse(text).RootElement.GetProperty("controls")[0].GetProperty("id").GetString()!;
            var broken = new Dictionary<string, string>
            {
                ["null-id.json"] = text.Replace($"\"id\": \"{id}\"", "\"id\": null"),
                ["null-host.json"] = System.Text.RegularExpressions.Regex.Replace(text, "\"host\": \"[^\"]*\"", "\"host\": null"),
                ["unknown-key.json"] = text.Replace("\"controls\":", "\"surprise\": 1, \"controls\":"),
                // The same key twice: the last would win, so a failing control could be merged as passing.
                ["duplicate-key.json"] = text.Replace("\"status\": \"fail\"", "\"status\": \"fail\", \"status\": \"pass\""),
            };
            foreach (var (name, content) in broken)
            {
                Assert.That(content, Is.Not.EqualTo(text), $"{name} differs from the report");
                var file = Path.Combine(dir.FullName, name);
                await File.WriteAllTextAsync(file, content);
                var merge = await Harden("report", "merge", good, file, "--format", "json");
                Assert.That(merge.ExitCode, Is.EqualTo(1), $"{name}: {merge}");
                Assert.That(merge.Error, Does.Contain(name).And.Not.Contain("   at "), name);
            }

            var copy = Path.Combine(dir.FullName, "db-again.json");
            File.Copy(good, copy);
            var twice = await Harden("report", "merge", good, copy, "--format", "json");
            Assert.That(twice.ExitCode, Is.EqualTo(1), twice.ToString());
            Assert.That(twice.Error, Does.Contain("would be counted twice"));
            var newest = await Harden("report", "merge", good, copy, "--format", "json", "--keep-newest");
            Assert.That(newest.ExitCode, Is.EqualTo(2), newest.ToString());
            Assert.That(System.Text.Json.JsonDocument.Parse(newest.Out).RootElement.GetProperty("hosts").GetInt32(), Is.EqualTo(1));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>An evidence run killed mid-way leaves its private staging folder (copies of host files); the next run removes it, and only it.</summary>
    [Test]
    public async Task A_killed_evidence_runs_staging_folder_is_removed_by_the_next_run_and_nothing_else()
    {
        await WithOperatorAsync();
        var parent = Directory.CreateTempSubdirectory("harden-evidence-parent-").FullName;
        var outside = Directory.CreateTempSubdirectory("harden-evidence-outside-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(outside, "keep"), "not harden's\n");
            // Decoys a careless cleanup would take: a live run's folder, a link dressed as one, one with another mode.
            var live = Path.Combine(parent, $".other.tmp-{Environment.ProcessId}-0123456789abcdef");
            Directory.CreateDirectory(live, (UnixFileMode)Convert.ToInt32("700", 8));
            var link = Path.Combine(parent, ".other.tmp-999999-0123456789abcdef");
            File.CreateSymbolicLink(link, outside);
            var loose = Path.Combine(parent, ".other.tmp-999998-0123456789abcdef");
            Directory.CreateDirectory(loose, (UnixFileMode)Convert.ToInt32("755", 8));

            // A real run, killed as soon as its staging folder holds something.
            using var killed = new System.Diagnostics.Process { StartInfo = new("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true } };
            foreach (var a in (string[])[HardenCli.Assembly, "evidence", "--out", Path.Combine(parent, "first"), "--root", Root.Path, "--set", "ssh_allow_members=alice"])
                killed.StartInfo.ArgumentList.Add(a);
            killed.Start();
            string? staging = null;
            for (var i = 0; i < 600 && staging is null && !killed.HasExited; i++)
            {
                staging = Directory.EnumerateDirectories(parent, ".first.tmp-*").FirstOrDefault(d => Directory.EnumerateFiles(d).Any());
                if (staging is null) await Task.Delay(50);
            }
            Assert.That(staging, Is.Not.Null, "the run made its staging folder");
            killed.Kill();
            await killed.WaitForExitAsync();
            Assert.That(Directory.Exists(staging), "a SIGKILL leaves it behind");

            var next = await Harden(["evidence", "--out", Path.Combine(parent, "second"), "--root", Root.Path, "--set", "ssh_allow_members=alice"]);
            Assert.That(next.ExitCode, Is.Zero, next.ToString());
            Assert.That(Directory.Exists(staging), Is.False, "the next run removed the killed run's folder");
            Assert.That(Directory.Exists(live) && Directory.Exists(loose) && File.Exists(Path.Combine(outside, "keep")) && new FileInfo(link).LinkTarget is not null,
                "a live run's folder, a link and a folder of another mode are left alone");
        }
        finally
        {
            Directory.Delete(parent, recursive: true);
            Directory.Delete(outside, recursive: true);
        }
    }

    /// <summary>
    /// A data folder laid over the way to someone's keys (a home, a ~/.ssh) leaves it group-writable,
    /// which sshd's StrictModes refuses: the plan sees that loss and apply refuses; forced, the real
    /// sshd does refuse the key, as foreseen.
    /// </summary>
    [TestCase("alice", "/home/alice/.ssh")]
    [TestCase("bob", "/home/bob/.ssh")]
    public async Task A_folder_the_plan_changes_on_the_way_to_a_users_keys_is_seen_as_a_lost_login(string user, string folder)
    {
        var args = await WithOperatorAsync("--set", "ssh_allow_members=alice,bob");
        await Root.AddUserAsync("bob", withKey: false);
        var key = await LiveSshd.InstallKeyAsync(Root, user);
        var etc = await EtcAsync();

        var refused = await Harden(["apply", "--yes", .. args, "--set", $"phi_directories={folder}"]);
        Assert.That(refused.ExitCode, Is.EqualTo(3), refused.ToString());
        Assert.That(refused.Error, Does.Contain($"{user} (").And.Contain($"the plan leaves {folder} 02770 root:phi-access, which sshd's StrictModes refuses")
            .And.Contain("keep that folder out of the profile's folder variables"));
        AssertUnchanged(etc, await EtcAsync());

        var forced = await Harden(["apply", "--yes", "--accept-lockout-risk", .. args, "--set", $"phi_directories={folder}"]);
        Assert.That(forced.ExitCode, Is.Zero, forced.ToString());
        await using var sshd = await LiveSshd.StartAsync(Root);
        var login = await sshd.LoginWithKeyAsync(user, key, "id -un");
        Assert.That(login.Succeeded, Is.False, $"sshd refuses the key, as the plan said\n{login}");
        Assert.That(sshd.Log, Does.Contain("bad ownership or modes"));
    }

    /// <summary>
    /// An administrator's own links in /etc/systemd/system: a linked unit file (systemctl refuses to
    /// enable or disable one, and disable deletes the link) and a unit name linked elsewhere (mask
    /// refuses). apply converges, the links stay or come back, a second plan is empty, rollback is exact.
    /// </summary>
    [Test]
    public async Task Units_an_administrator_linked_are_enabled_masked_and_rolled_back_around_the_links()
    {
        var args = await WithOperatorAsync();
        Assert.That((await Root.Chroot("systemctl", "disable", "auditd.service")).ExitCode, Is.Zero);
        File.CreateSymbolicLink(Root.Map("/etc/systemd/system/auditd.service"), "/lib/systemd/system/auditd.service");
        File.CreateSymbolicLink(Root.Map("/etc/systemd/system/debug-shell.service"), "/lib/systemd/system/reboot.target");
        var before = await EtcAsync();

        var apply = await Harden(["apply", "--yes", .. args]);
        Assert.That(apply.ExitCode, Is.Zero, apply.ToString());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(File.ResolveLinkTarget(Root.Map("/etc/systemd/system/auditd.service"), false)?.ToString(), Is.EqualTo("/lib/systemd/system/auditd.service"), "the administrator's link stays");
            Assert.That(File.Exists(Root.Map("/etc/systemd/system/multi-user.target.wants/auditd.service")), "auditd is enabled");
            Assert.That(File.ResolveLinkTarget(Root.Map("/etc/systemd/system/debug-shell.service"), false)?.ToString(), Is.EqualTo("/dev/null"), "debug-shell is masked");
        }
        var second = await Harden(["plan", "--detailed-exitcode", .. args]);
        Assert.That(second.ExitCode, Is.Zero, second.ToString());

        var rollback = await Harden(["rollback", "--yes", "--root", Root.Path]);
        Assert.That(rollback.ExitCode, Is.Zero, rollback.ToString());
        AssertUnchanged(before, await EtcAsync());
    }
}
