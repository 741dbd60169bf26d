using System.Collections.Immutable;
using Harden.Host;
using Harden.Planning;
using Harden.Resources;

namespace Harden.Core.Tests;

/// <summary>The pure parts of the auditor-depth work: privileged-program rules, sshd's units, the max-mode resource, the scan itself.</summary>
public sealed class AuditorDepthUnitTests
{
    private static UnixFileMode Octal(string text) => (UnixFileMode)Convert.ToInt32(text, 8);

    private static HostSnapshot Host() =>
        new("/img", false, ImmutableDictionary<string, FileState>.Empty, [], [], ImmutableDictionary<string, PackageInfo>.Empty, [],
            ImmutableDictionary<string, KeyAccess>.Empty, null);

    [Test]
    public void The_marker_becomes_one_rule_per_privileged_program_found_under_its_folders()
    {
        var file = new FileResource("audit", "/etc/audit/rules.d/hipaa.rules", "-w /etc/passwd -p wa -k identity\n" + AuditPrivileged.Marker + "/usr /opt\n",
            Octal("640"), "root", "root", AuditWatches.Validator);
        var host = Host() with
        {
            PrivilegedPrograms = ImmutableDictionary<string, ImmutableArray<string>>.Empty
                .Add("/usr", ["/usr/bin/sudo", "/usr/bin/passwd"]).Add("/opt", ["/opt/vendor/helper"]),
        };
        var content = ((FileResource)AuditPrivileged.Expand([file], host).Single()).Content.Split('\n');
        Assert.That(content, Is.EqualTo(new[]
        {
            "-w /etc/passwd -p wa -k identity",
            "## 3 setuid/setgid programs found under /usr /opt when this was planned",
            AuditPrivileged.Rule("/opt/vendor/helper"), AuditPrivileged.Rule("/usr/bin/passwd"), AuditPrivileged.Rule("/usr/bin/sudo"),
            "",
        }));
        Assert.That(AuditPrivileged.Needs([file]).Select(q => (q.Kind, q.Target)),
            Is.EqualTo(new[] { (HostQueryKind.PrivilegedPrograms, "/usr"), (HostQueryKind.PrivilegedPrograms, "/opt") }));
    }

    [Test]
    public void A_program_name_that_could_add_rules_of_its_own_is_left_out_and_counted()
    {
        var file = new FileResource("audit", "/etc/audit/rules.d/hipaa.rules", AuditPrivileged.Marker + "/opt\n", Octal("640"), "root", "root", AuditWatches.Validator);
        var host = Host() with
        {
            PrivilegedPrograms = ImmutableDictionary<string, ImmutableArray<string>>.Empty.Add("/opt", ["/opt/app/ok", "/opt/x\n-D", "/opt/with space", "/opt/y\n-e 0"]),
        };
        var content = ((FileResource)AuditPrivileged.Expand([file], host).Single()).Content.Split('\n');
        Assert.That(content, Is.EqualTo(new[]
        {
            "## 1 setuid/setgid programs found under /opt when this was planned",
            "## 3 more left out: their names hold characters an audit rule cannot (find them with find -perm /6000)",
            AuditPrivileged.Rule("/opt/app/ok"),
            "",
        }));
    }

    [TestCase("4755", true)]
    [TestCase("2755", true)]
    [TestCase("4644", false)]
    [TestCase("0755", false)]
    public void Privileged_means_setuid_or_setgid_and_executable(string mode, bool privileged) =>
        Assert.That(AuditPrivileged.IsPrivileged(Octal(mode)), Is.EqualTo(privileged));

    [TestCase("rekeylimit", "512M 1h", "536870912 3600")]
    [TestCase("rekeylimit", "1G", "1073741824 0")]
    [TestCase("logingracetime", "1m30s", "90")]
    [TestCase("logingracetime", "60", "60")]
    [TestCase("maxsessions", "4", "4")]
    [TestCase("rekeylimit", "lots", "lots")]
    public void Values_compare_in_the_units_sshd_T_prints(string key, string value, string reported) =>
        Assert.That(SshdConfig.AsReported(key, value), Is.EqualTo(reported));

    [TestCase(EntryKind.File, "644", "600", ChangeAction.Update, "mode 0644 -> 0600")]
    [TestCase(EntryKind.File, "400", "600", ChangeAction.NoOp, "")]
    [TestCase(EntryKind.Directory, "755", "700", ChangeAction.Update, "mode 0755 -> 0700")]
    [TestCase(EntryKind.Missing, "0", "600", ChangeAction.NoOp, "")]
    public void A_max_mode_only_takes_bits_away(EntryKind kind, string now, string limit, ChangeAction action, string reason)
    {
        var host = Host() with { Entries = ImmutableDictionary<string, Entry>.Empty.Add("/etc/x", new Entry(kind, Octal(now), 0, 0, 1)) };
        var change = new ModeResource("m", "/etc/x", Octal(limit)).Plan(host);
        Assert.That((change.Action, change.Reason), Is.EqualTo((action, reason)));
    }

    [Test]
    public void A_link_is_never_given_a_mode()
    {
        var host = Host() with { Entries = ImmutableDictionary<string, Entry>.Empty.Add("/etc/x", Entry.Missing with { Kind = EntryKind.Symlink }) };
        var change = new ModeResource("m", "/etc/x", Octal("600")).Plan(host);
        Assert.That(change.Action, Is.EqualTo(ChangeAction.NoOp));
        Assert.That(change.Reason, Does.Contain("not a file or folder"));
    }

    [Test]
    public void The_scan_finds_setuid_files_and_never_follows_a_link()
    {
        using var root = new TempDirectory();
        using var outside = new TempDirectory();
        var helper = root.Write("usr/bin/helper", "x");
        File.SetUnixFileMode(helper, Octal("4755"));
        File.SetUnixFileMode(root.Write("usr/bin/plain", "x"), Octal("755"));
        File.SetUnixFileMode(outside.Write("evil/su", "x"), Octal("4755"));
        // Links out of the root, to a folder and to a file, must not be walked or counted.
        Directory.CreateSymbolicLink(Path.Combine(root.Path, "usr/lib"), Path.Combine(outside.Path, "evil"));
        File.CreateSymbolicLink(Path.Combine(root.Path, "usr/bin/su"), Path.Combine(outside.Path, "evil/su"));

        var found = HostRoot.Open(root.Path).Files.FindFiles("usr", AuditPrivileged.IsPrivileged);
        Assert.That(found, Is.EqualTo(new[] { "usr/bin/helper" }));
        Assert.That(HostRoot.Open(root.Path).Files.FindFiles("missing", AuditPrivileged.IsPrivileged), Is.Empty);
    }

    [Test]
    public void A_kernel_setting_is_compared_only_on_a_live_host_and_keeps_the_value_found()
    {
        var settings = ImmutableDictionary<string, string?>.Empty.Add("kernel.dmesg_restrict", "0").Add("net.ipv4.tcp_rmem", "4096\t131072\t6291456")
            .Add("net.ipv6.conf.all.accept_ra", null);
        var live = Host() with { IsLive = true, KernelSettings = settings };
        var change = new SysctlResource("kernel-sysctl", "kernel.dmesg_restrict", "1").Plan(live);
        Assert.Multiple(() =>
        {
            Assert.That((change.Action, change.Before.Get("value"), change.After.Get("value")), Is.EqualTo((ChangeAction.Update, "0", "1")));
            Assert.That(new SysctlResource("k", "net.ipv4.tcp_rmem", "4096 131072 6291456").Plan(live).Action, Is.EqualTo(ChangeAction.NoOp), "tabs and spaces are the same value");
            var missing = new SysctlResource("k", "net.ipv6.conf.all.accept_ra", "0").Plan(live);
            Assert.That((missing.Action, missing.Reason), Is.EqualTo((ChangeAction.NoOp, "net.ipv6.conf.all.accept_ra does not exist in this kernel; left to the file")));
            Assert.That(new SysctlResource("k", "kernel.dmesg_restrict", "1").Plan(Host()).Action, Is.EqualTo(ChangeAction.NoOp), "offline: the file is all there is");
        });
    }

    [Test]
    public void Sysctl_files_give_their_settings_and_nothing_that_could_leave_proc_sys()
    {
        var text = "# comment\n; also\n\nkernel.dmesg_restrict = 1\n-fs.suid_dumpable=0\nnet.ipv4.tcp_rmem = 4096 131072\n../../etc/passwd = x\nkernel..x = 1\n";
        Assert.That(SysctlResource.Settings(text), Is.EqualTo(new[] { ("kernel.dmesg_restrict", "1"), ("fs.suid_dumpable", "0"), ("net.ipv4.tcp_rmem", "4096 131072") }));
    }

    [Test]
    public void Apt_sources_that_skip_signatures_are_named_as_apt_would_read_them()
    {
        static FileState F(string text) => new(true, System.Text.Encoding.UTF8.GetBytes(text), Octal("644"), 0, 0, null);
        var host = Host() with
        {
            Files = ImmutableDictionary<string, FileState>.Empty.Add("/etc/apt/sources.list", F("deb http://deb.debian.org/debian bookworm main\n")),
            Folders = ImmutableDictionary<string, ImmutableDictionary<string, FileState>>.Empty
                .Add(AptSources.SourceFolder, ImmutableDictionary<string, FileState>.Empty
                    .Add("vendor.list", F("deb [arch=amd64 trusted=yes] http://vendor.example/ stable main\n"))
                    .Add("vendor.sources", F("Types: deb\nURIs: http://v.example/\nTrusted: yes\n"))
                    .Add("old.list.dpkg-old", F("deb [trusted=yes] http://old.example/ x main\n"))
                    .Add("odd\nname.list", F("deb [trusted=yes] http://odd.example/ x main\n")))
                .Add(AptSources.ConfFolder, ImmutableDictionary<string, FileState>.Empty
                    .Add("99insecure", F("// Acquire::AllowInsecureRepositories \"true\";\nAPT::Get::AllowUnauthenticated \"true\";\n"))),
        };
        Assert.That(AptSources.Findings(host).Select(f => f[..f.IndexOf(' ')]), Is.EquivalentTo(new[]
        {
            "/etc/apt/sources.list.d/vendor.list:1", "/etc/apt/sources.list.d/vendor.sources:3", "/etc/apt/apt.conf.d/99insecure:2",
        }));
    }

    [Test]
    public void Apparmor_profiles_in_complain_mode_are_named_by_flag_or_by_force_complain_link()
    {
        static FileState F(string text) => new(true, System.Text.Encoding.UTF8.GetBytes(text), Octal("644"), 0, 0, null);
        var host = Host() with
        {
            Folders = ImmutableDictionary<string, ImmutableDictionary<string, FileState>>.Empty
                .Add(AppArmorProfiles.ProfileFolder, ImmutableDictionary<string, FileState>.Empty
                    .Add("usr.sbin.a", F("#include <tunables/global>\n/usr/sbin/a flags=(attach_disconnected, complain) {\n}\n"))
                    .Add("b", F("abi <abi/4.0>,\nprofile b /usr/bin/b flags=(complain) {\n  profile child flags=(complain) {\n  }\n}\n"))
                    .Add("enforced", F("/usr/bin/c flags=(attach_disconnected) {\n}\n# /usr/bin/c flags=(complain) {\n"))
                    .Add("userns", F("profile chrome /opt/chrome flags=(unconfined) {\n}\n"))
                    .Add("forced", F("/usr/bin/f {\n}\n"))
                    .Add("old.dpkg-old", F("/usr/bin/o flags=(complain) {\n}\n"))
                    .Add("odd\nname", F("/usr/bin/n flags=(complain) {\n}\n"))
                    .Add("noflags", F("/usr/sbin/chronyd (attach_disconnected, complain)\n{\n  signal (send) set=(term) peer=x,\n}\n"))
                    .Add("rules-only", F("/usr/bin/r {\n  signal (receive) set=(complain),\n}\n"))
                    .Add("off", F("/usr/bin/off flags=(complain) {\n}\n"))),
            Listings = ImmutableDictionary<string, ImmutableArray<string>>.Empty.Add(AppArmorProfiles.ForceComplainFolder, ["forced"]).Add(AppArmorProfiles.DisableFolder, ["off"]),
        };
        var findings = AppArmorProfiles.Findings(host).ToList();
        Assert.That(findings.Select(f => f[..f.IndexOf(' ')]), Is.EqualTo(new[] { "/etc/apparmor.d/b", "/etc/apparmor.d/forced", "/etc/apparmor.d/noflags", "/etc/apparmor.d/usr.sbin.a" }),
            "flags= is optional and { may follow on the next line; a rule is not a header; a disabled profile is never loaded");
        Assert.That(findings[0], Does.Contain("for b, child;"));
        Assert.That(findings[1], Does.Contain("forced into complain mode by /etc/apparmor.d/force-complain/forced"));
        Assert.That(findings[3], Does.Contain("for /usr/sbin/a;").And.Contain("aa-enforce /etc/apparmor.d/usr.sbin.a"));
    }

    [Test]
    public void A_package_others_need_is_kept_unless_they_go_too()
    {
        var host = Host() with
        {
            Packages = ImmutableDictionary<string, PackageInfo>.Empty
                .Add("rpcbind", new PackageInfo("1.2", "amd64"))
                .Add("nfs-common", new PackageInfo("2.6", "amd64") { Depends = ["rpcbind", "libc6"] })
                .Add("cups-daemon", new PackageInfo("2.4", "amd64"))
                .Add("cups", new PackageInfo("2.4", "amd64") { Depends = ["cups-daemon"] }),
        };
        var list = new HashSet<string>(["rpcbind", "cups", "cups-daemon"]);
        var rpcbind = new PackageResource("unwanted-services", "rpcbind", present: false, list).Plan(host);
        Assert.Multiple(() =>
        {
            Assert.That((rpcbind.Action, rpcbind.Reason), Is.EqualTo((ChangeAction.NoOp,
                "kept: nfs-common needs it; removing it would remove them too (remove them as well, or take rpcbind off the list)")));
            Assert.That(new PackageResource("unwanted-services", "cups-daemon", present: false, list).Plan(host).Action, Is.EqualTo(ChangeAction.Delete),
                "cups needs it, but cups goes too");
        });
    }

    [TestCase("kernel.yama.ptrace_scope", "2", "1", ChangeAction.NoOp)]
    [TestCase("kernel.yama.ptrace_scope", "0", "1", ChangeAction.Update)]
    [TestCase("kernel.unprivileged_bpf_disabled", "1", "2", ChangeAction.NoOp)]
    [TestCase("kernel.unprivileged_bpf_disabled", "0", "2", ChangeAction.Update)]
    [TestCase("net.ipv4.conf.all.accept_redirects", "1", "0", ChangeAction.Update)]
    public void A_kernel_already_stricter_is_never_weakened(string key, string now, string wanted, ChangeAction action)
    {
        var live = Host() with { IsLive = true, KernelSettings = ImmutableDictionary<string, string?>.Empty.Add(key, now) };
        Assert.That(new SysctlResource("k", key, wanted).Plan(live).Action, Is.EqualTo(action));
    }
}
