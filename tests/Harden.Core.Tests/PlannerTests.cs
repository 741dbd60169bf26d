using System.Collections.Immutable;
using System.Text;
using Harden.Host;
using Harden.Planning;
using Harden.Profiles;
using Harden.Rendering;
using Harden.Resources;

namespace Harden.Core.Tests;

/// <summary>The planner is pure: these tests give it values and read a value back, no machine needed.</summary>
public sealed class PlannerTests
{
    private static readonly UnixFileMode Mode644 = (UnixFileMode)Convert.ToInt32("644", 8);
    private const string LoginDefs = "# shadow settings\nPASS_MAX_DAYS\t90\nPASS_MIN_DAYS\t7\nPASS_WARN_AGE\t14\n";
    private const string AuditdConf = "log_file = /var/log/audit/audit.log\nlog_group = adm\nmax_log_file_action = KEEP_LOGS\nspace_left_action = SYSLOG\n"
        + "admin_space_left_action = SUSPEND\ndisk_full_action = SUSPEND\ndisk_error_action = SYSLOG\n";

    private static DesiredState Desired(params string[] sets)
    {
        var profile = ProfileLoader.Load("ubuntu-hipaa");
        return DesiredState.Render(profile, VariableBinder.Bind(profile, sets), new TemplateRenderer(EmbeddedTemplateSource.Instance));
    }

    private static HostSnapshot Host(bool live = false, IEnumerable<(string Path, string Text)>? files = null, string groupLine = "",
        IEnumerable<string>? dropIns = null, Func<string, UnixFileMode>? modeOf = null) =>
        new("/img", live,
            (files ?? []).ToImmutableDictionary(f => f.Path, f => new FileState(true, Encoding.UTF8.GetBytes(f.Text), modeOf?.Invoke(f.Path) ?? Mode644, 0, 0, null)),
            [new UserAccount("root", 0, 0, "/root"), new UserAccount("alice", 1000, 1000, "/home/alice")],
            [new GroupEntry("root", 0, []), new GroupEntry("alice", 1000, []), new GroupEntry("daemon", 1, []), new GroupEntry("crontab", 101, []), .. groupLine.Length > 0 ? [new GroupEntry(groupLine, 1001, ["alice"])] : Array.Empty<GroupEntry>()],
            new[] { "openssh-server", "libpam-pwquality", "cracklib-runtime", "libpam-modules-bin", "auditd", "audispd-plugins", "chrony", "rsyslog", "rsyslog-gnutls" }.ToImmutableDictionary(p => p, _ => new PackageInfo("1.0", "amd64")),
            [.. dropIns ?? []],
            ImmutableDictionary<string, KeyAccess>.Empty.Add("alice", new KeyAccess(1, null)),
            null);

    /// <summary>A host that already has everything the shipped profile wants: every file, key and block, package, group, mode and unit state.</summary>
    private static HostSnapshot Converged(DesiredState desired)
    {
        // Files as the plan renders them for this host (the privileged-program marker filled in: none here).
        var texts = AuditPrivileged.Expand(desired.Resources.ToList(), Host()).OfType<FileResource>().ToDictionary(f => f.Path, f => f.Content);
        texts["/etc/login.defs"] = LoginDefs;
        texts["/etc/audit/auditd.conf"] = AuditdConf;
        foreach (var edit in desired.Resources.OfType<ITextEdit>().Where(e => e is not FileResource))
            texts[edit.Path] = edit.Edit(texts.GetValueOrDefault(edit.Path, ""));
        var host = Host(files: texts.Select(kv => (kv.Key, kv.Value)), groupLine: "phi-access",
            modeOf: path => desired.Files.FirstOrDefault(f => f.Path == path)?.Mode ?? (UnixFileMode)Convert.ToInt32("600", 8));
        // Files owned by another group (cron.allow: crontab) carry that group's id.
        var gids = host.Groups.ToDictionary(g => g.Name, g => g.Gid);
        host = host with
        {
            Files = host.Files.SetItems(desired.Files.Where(f => f.Group != "root" && gids.ContainsKey(f.Group))
                .Select(f => KeyValuePair.Create(f.Path, host.Files[f.Path] with { Gid = gids[f.Group] }))),
        };
        return host with
        {
            Groups = [.. host.Groups, .. desired.Resources.OfType<GroupResource>().Where(g => g.Address.Key != "phi-access").Select((g, i) => new GroupEntry(g.Address.Key, 2000u + (uint)i, []))],
            Packages = host.Packages.SetItems(desired.Resources.OfType<PackageResource>().Where(p => p.Present).Select(p => KeyValuePair.Create(p.Address.Key, new PackageInfo("1.0", "amd64")))),
            Directories = ImmutableDictionary<string, DirectoryState>.Empty.Add("/var/data/phi",
                new DirectoryState(true, (UnixFileMode)Convert.ToInt32("2770", 8), 0, 1001, null))
                // An application folder that exists with its own owner and mode is left as it is.
                .Add("/opt/healthcare-app", new DirectoryState(true, (UnixFileMode)Convert.ToInt32("775", 8), 1000, 1000, null))
                // The folders the audit watches name (/etc, /var/log, /var/data, …) exist, as on a real host.
                .AddRange(AuditWatches.Needs(desired.Resources).Select(q => q.Target).Distinct()
                    .Where(f => f is not ("/var/data/phi" or "/opt/healthcare-app"))
                    .Select(f => KeyValuePair.Create(f, new DirectoryState(true, (UnixFileMode)Convert.ToInt32("755", 8), 0, 0, null)))),
            Services = desired.Resources.OfType<ServiceResource>().ToImmutableDictionary(s => s.Address.Key, s => s.Wanted),
            Entries = desired.Resources.OfType<ModeResource>().ToImmutableDictionary(m => m.Address.Key, m => new Entry(EntryKind.File, m.Limit, 0, 0, 1)),
        };
    }

    private static Change At(Plan plan, string address) => plan.Changes.Single(c => c.Address.ToString() == address);

    [Test]
    public void Empty_host_gets_every_file_created()
    {
        var plan = Planner.Create(Desired(), Host());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(plan.Changes.Where(c => c.Address.Kind == FileResource.Kind).Select(c => c.Action), Is.All.EqualTo(ChangeAction.Create));
            Assert.That(plan.Changes.Select(c => c.Address.ToString()), Does.Contain("file:/etc/profile.d/hipaa-timeout.sh"));
            Assert.That(At(plan, "group:phi-access").Action, Is.EqualTo(ChangeAction.Create));
            Assert.That(At(plan, "dir:/var/data/phi").After!["mode"], Is.EqualTo("02770"));
            Assert.That(plan.SkippedModules.Select(m => m.Id), Is.EquivalentTo(new[] { "ssh-automation", "log-forwarding", "log-forwarding-quiet", "audit-syslog", "time-servers", "backups", "firewall", "aide", "aide-timer", "clamav", "drift-check" }), "modules whose variables are unset");
            Assert.That(plan.HasChanges, Is.True);
        }
    }

    [Test]
    public void A_host_that_matches_has_nothing_to_do()
    {
        var desired = Desired();
        var plan = Planner.Create(desired, Converged(desired));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(plan.Changes.Where(c => c.IsChange).Select(c => $"{c.Address} {c.Reason} {c.Diff}"), Is.Empty);
            Assert.That(plan.HasChanges, Is.False);
            Assert.That(plan.Handlers, Is.Empty, "no change, no handler");
        }
    }

    [Test]
    public void A_mode_change_alone_is_an_update()
    {
        var desired = Desired();
        var host = Converged(desired);
        var rules = "/etc/audit/rules.d/hipaa.rules";
        host = host with { Files = host.Files.SetItem(rules, host.Files[rules] with { Mode = Mode644 }) };
        var plan = Planner.Create(desired, host);
        var audit = At(plan, "file:" + rules);
        Assert.That(audit.Action, Is.EqualTo(ChangeAction.Update));
        Assert.That(audit.Reason, Is.EqualTo("mode 0644 -> 0640"), audit.Diff);
        Assert.That(plan.Handlers.Single().Argv, Is.EqualTo(new[] { "augenrules" }), "offline root: compile only");
    }

    [Test]
    public void A_key_edit_keeps_every_other_line()
    {
        var desired = Desired();
        var host = Converged(desired);
        host = host with { Files = host.Files.SetItem("/etc/login.defs", new FileState(true, "# comment\nPASS_MAX_DAYS\t99999\nUMASK 022\n"u8.ToArray(), Mode644, 0, 0, null)) };
        var plan = Planner.Create(desired, host);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(At(plan, "key:/etc/login.defs#PASS_MAX_DAYS").Reason, Is.EqualTo("PASS_MAX_DAYS 99999 -> 90"));
            Assert.That(At(plan, "key:/etc/login.defs#PASS_MIN_DAYS").Action, Is.EqualTo(ChangeAction.Create));
            Assert.That(KeyResource.Set("# comment\nPASS_MAX_DAYS\t99999\nUMASK 022\n", "PASS_MAX_DAYS", "90", " "),
                Is.EqualTo("# comment\nPASS_MAX_DAYS\t90\nUMASK 022\n"));
            Assert.That(KeyResource.Set("# comment\n#PASS_MIN_DAYS 0\n", "PASS_MIN_DAYS", "7", " "), Is.EqualTo("# comment\n#PASS_MIN_DAYS 0\nPASS_MIN_DAYS 7\n"));
            Assert.That(KeyResource.Remove("a\nPASS_MIN_DAYS 7\nb\n", "PASS_MIN_DAYS"), Is.EqualTo("a\nb\n"));
            Assert.That(KeyResource.Set("max_log_file_action = ROTATE\n", "max_log_file_action", "keep_logs", " = "), Is.EqualTo("max_log_file_action = keep_logs\n"));
        }
    }

    [Test]
    public void Blocks_go_between_markers_and_come_out_again()
    {
        var text = "Include /etc/ssh/sshd_config.d/*.conf\nX11Forwarding yes\n";
        var with = BlockResource.Set(text, "ssh", "PermitRootLogin no\n", "top");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(with, Does.StartWith("# BEGIN harden ssh").And.EndWith(text));
            Assert.That(BlockResource.Current(with, "ssh"), Is.EqualTo("PermitRootLogin no\n"));
            Assert.That(BlockResource.Set(with, "ssh", "PermitRootLogin no\nMaxAuthTries 3\n", "top"), Does.Contain("PermitRootLogin no\nMaxAuthTries 3\n# END harden ssh\nInclude"));
            Assert.That(BlockResource.Remove(with, "ssh"), Is.EqualTo(text));
        }
    }

    [Test]
    public void Handlers_are_live_forms_on_a_live_host_and_skipped_runtime_only_offline()
    {
        var offline = Planner.Create(Desired(), Host());
        var live = Planner.Create(Desired(), Host(live: true));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(offline.Handlers.Single(h => h.Id == "reload-ssh").SkipReason, Does.Contain("runtime-only"));
            Assert.That(live.Handlers.Single(h => h.Id == "reload-ssh").SkipReason, Is.Null);
            Assert.That(live.Handlers.Single(h => h.Id == "load-audit-rules").Argv, Is.EqualTo(new[] { "augenrules", "--load" }));
        }
    }

    [Test]
    public void Conflicting_sshd_lines_are_found_globally_in_match_blocks_and_by_alias()
    {
        const string cloudInit = "PasswordAuthentication yes\nMaxAuthTries 3\nChallengeResponseAuthentication yes\nMatch User backup\n  PasswordAuthentication yes\n  X11Forwarding no\nMatch Address 10.0.0.0/8\n  PermitRootLogin yes\n";
        var plan = Planner.Create(Desired(), Host(files: [("/etc/ssh/sshd_config.d/50-cloud-init.conf", cloudInit)],
            dropIns: ["/etc/ssh/sshd_config.d/50-cloud-init.conf"]));
        var conflicts = plan.Changes.Where(c => c.Address.Kind is SshdConflictResource.GlobalKind or SshdConflictResource.MatchKind)
            .ToDictionary(c => c.Address.ToString());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(conflicts.Keys, Is.EquivalentTo(new[]
            {
                "sshd-conflict:/etc/ssh/sshd_config.d/50-cloud-init.conf:1", "sshd-conflict:/etc/ssh/sshd_config.d/50-cloud-init.conf:3",
                "sshd-match:/etc/ssh/sshd_config.d/50-cloud-init.conf:5", "sshd-match:/etc/ssh/sshd_config.d/50-cloud-init.conf:8",
            }));
            Assert.That(conflicts["sshd-conflict:/etc/ssh/sshd_config.d/50-cloud-init.conf:3"].Reason, Does.StartWith("kbdinteractiveauthentication yes"));
            Assert.That(conflicts["sshd-match:/etc/ssh/sshd_config.d/50-cloud-init.conf:8"].Reason, Does.Contain("in 'Match Address 10.0.0.0/8'"));
            Assert.That(conflicts["sshd-conflict:/etc/ssh/sshd_config.d/50-cloud-init.conf:1"].After!["line"],
                Is.EqualTo("# harden: disabled, conflicts with /etc/ssh/sshd_config (harden block): PasswordAuthentication yes"));
            Assert.That(plan.SshdConnections, Is.EquivalentTo(new[]
            {
                "addr=192.0.2.1,host=harden-check.invalid,laddr=127.0.0.1,lport=22,user=backup",
                "addr=10.0.0.1,host=harden-check.invalid,laddr=127.0.0.1,lport=22,user=nobody",
            }));
            Assert.That(plan.Validators, Does.Contain("sshd"));
        }
    }

    [Test]
    public void A_symlinked_target_is_refused()
    {
        var host = Host() with
        {
            Files = ImmutableDictionary<string, FileState>.Empty.Add("/etc/issue.net", FileState.Missing with { Symlink = "/img/etc/issue.net -> /etc/passwd" }),
        };
        Assert.That(() => Planner.Create(Desired(), host), Throws.TypeOf<HardenException>().With.Message.Contains("symlink"));
    }

    [Test]
    public void Log_forwarding_renders_tls_settings_when_the_server_is_set()
    {
        var desired = Desired("log_server=logs.example.org");
        var conf = desired.Files.Single(f => f.Path == "/etc/rsyslog.d/60-hipaa-remote.conf");
        Assert.That(conf.Content, Does.Contain("target=\"logs.example.org\"").And.Contain("port=\"6514\"").And.Contain("StreamDriverMode=\"1\""));
        var plan = Planner.Create(desired, Host());
        Assert.That(plan.SkippedModules.Select(m => m.Id), Does.Not.Contain("log-forwarding"));
        Assert.That(At(plan, "service:rsyslog.service").Action, Is.EqualTo(ChangeAction.Update));
    }

    [Test]
    public void The_banner_is_written_where_sshd_is_told_to_look()
    {
        var plan = Planner.Create(Desired("banner_path=/etc/issue.hipaa"), Host());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(At(plan, "file:/etc/issue.hipaa").Action, Is.EqualTo(ChangeAction.Create));
            Assert.That(plan.Changes.Select(c => c.Address.ToString()), Does.Not.Contain("file:/etc/ssh/hipaa-banner.txt"));
            Assert.That(plan.Expected.Single(e => e.Key == "banner").Value, Is.EqualTo("/etc/issue.hipaa"));
        }
    }

    [Test]
    public void Expected_sshd_settings_come_from_the_rendered_drop_in()
    {
        var plan = Planner.Create(Desired("ssh_max_auth_tries=4"), Host());
        var expected = plan.Expected.ToDictionary(e => e.Key, e => e.Value);
        Assert.That(expected["maxauthtries"], Is.EqualTo("4"));
        Assert.That(expected["allowgroups"], Is.EqualTo("phi-access"));
    }

    [Test]
    public void Lockout_guard_accepts_a_keyed_member_and_refuses_a_keyless_one()
    {
        var desired = Desired();
        var withKey = Host(groupLine: "phi-access");
        var plan = Planner.Create(desired, withKey);
        Assert.That(LockoutGuard.Assess(plan, withKey, null), Is.Null);

        var noKey = withKey with { AuthorizedKeys = ImmutableDictionary<string, KeyAccess>.Empty };
        Assert.That(LockoutGuard.Assess(plan, noKey, null), Does.Contain("alice has no key").And.Contain("no member of phi-access could log in afterwards"));
        Assert.That(LockoutGuard.Assess(plan, noKey, "alice"), Does.Contain("the operator (alice) could not log in afterwards"));
        Assert.That(LockoutGuard.Assess(plan, withKey, "root"), Does.Contain("is root"));
    }

    private static DesiredState Custom(params IResource[] resources)
    {
        var profile = ProfileLoader.Load("ubuntu-hipaa");
        return new DesiredState(profile, VariableBinder.Bind(profile, []), [.. resources], [], []);
    }

    [Test]
    public void Lockout_guard_follows_what_sshd_gets_whatever_the_module_is_called()
    {
        var sshd = new FileResource("my-access", "/etc/ssh/sshd_config.d/10-site.conf", "PasswordAuthentication no\nAllowGroups admins\n",
            Mode644, "root", "root", validator: null);
        var host = Host() with { AuthorizedKeys = ImmutableDictionary<string, KeyAccess>.Empty };
        var plan = Planner.Create(Custom(sshd), host);
        Assert.That(LockoutGuard.Assess(plan, host, "alice"), Does.Contain("alice is not in admins"));
        Assert.That(plan.Validators, Is.Empty, "no validator was named");
    }

    [Test]
    public void A_file_can_belong_to_a_group_the_same_run_creates()
    {
        var file = new FileResource("records", "/etc/records.conf", "x\n", Mode644, "root", "records", validator: null);
        var plan = Planner.Create(Custom(file, new GroupResource("records", "records")), Host());
        Assert.That(plan.Changes.Select(c => c.Address.ToString()), Is.EqualTo(new[] { "group:records", "file:/etc/records.conf" }), "the group comes first");
        Assert.That(() => Planner.Create(Custom(file), Host()), Throws.TypeOf<HardenException>().With.Message.Contains("no module creates it"));
    }

    [Test]
    public void A_sensitive_file_puts_a_digest_in_the_plan_never_its_content()
    {
        var file = new FileResource("secrets", "/etc/secret.key", "hunter2-secret\n", Mode644, "root", "root", null, sensitive: true);
        var change = Planner.Create(Custom(file), Host()).Changes.Single();
        var json = System.Text.Json.JsonSerializer.Serialize(change, HardenJson.Default.Change);
        Assert.That(json, Does.Not.Contain("hunter2"));
        Assert.That(change.After!["sha256"], Has.Length.EqualTo(64));
    }

    [Test]
    public void Each_resource_reports_evidence_from_the_same_facts_it_plans_from()
    {
        var desired = Desired();
        var host = Converged(desired);
        host = host with { Files = host.Files.SetItem("/etc/login.defs", new FileState(true, "PASS_MAX_DAYS 99999\n"u8.ToArray(), Mode644, 0, 0, null)) };
        var evidence = desired.Resources.Select(r => r.Check(host)).ToDictionary(e => e.Address.ToString());
        using (Assert.EnterMultipleScope())
        {
            Assert.That(evidence["file:/etc/issue.net"].Passed, Is.True);
            Assert.That(evidence["dir:/var/data/phi"].Passed, Is.True);
            var aging = evidence["key:/etc/login.defs#PASS_MAX_DAYS"];
            Assert.That((aging.Passed, aging.Observed!["value"], aging.Wanted!["value"], aging.Finding), Is.EqualTo((false, "99999", "90", "PASS_MAX_DAYS 99999 -> 90")));
        }
    }

    [TestCase("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBp16y23I6QhpupVVc971yPQuEpvEhpZvf0L07SsCrhW a@b\n", 1, "")]
    [TestCase("from=\"10.0.0.1\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBp16y23I6QhpupVVc971yPQuEpvEhpZvf0L07SsCrhW\n", 1, "")]
    [TestCase("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench alice@bench\n", 0, "has no well-formed public key")]
    [TestCase("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIBp16y23I6QhpupVVc971yPQuEpvEhpZvf0L07SsCrhW\n", 0, "has no well-formed public key")]
    [TestCase("ssh-dss AAAAB3NzaC1kc3MAAACBAP\n", 0, "only ssh-dss keys")]
    [TestCase("# just a comment\n\n", 0, "is empty")]
    public void Authorized_keys_count_only_well_formed_keys_sshd_accepts(string text, int good, string why)
    {
        var (count, reason) = SshAccess.Keys(text);
        Assert.That(count, Is.EqualTo(good));
        if (good == 0) Assert.That(reason, Does.Contain(why));
    }

    [Test]
    public void Expired_accounts_and_nologin_shells_cannot_keep_access()
    {
        var expired = SshAccess.Expired("alice:$6$x:19000:0:99999:7::19500:\nbob:!:19000:0:99999:7:::\n", DateTimeOffset.UnixEpoch.AddDays(20000));
        Assert.That(expired, Is.EquivalentTo(new[] { "alice" }));
        var desired = Desired();
        var host = Host(groupLine: "phi-access") with { ExpiredAccounts = expired };
        var plan = Planner.Create(desired, host);
        Assert.That(LockoutGuard.Assess(plan, host, "alice"), Does.Contain("alice is expired (fix: chage -E -1 alice)"));
        var nologin = host with { ExpiredAccounts = [], Users = [.. host.Users.Select(u => u.Name == "alice" ? u with { Shell = "/usr/sbin/nologin" } : u)] };
        Assert.That(LockoutGuard.Assess(plan, nologin, "alice"), Does.Contain("has no login shell (/usr/sbin/nologin)"));
    }
}
