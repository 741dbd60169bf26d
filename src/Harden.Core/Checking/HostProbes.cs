using System.Collections.Immutable;
using System.Text;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;

namespace Harden.Checking;

/// <summary>
/// What an auditor asks about beyond the files a profile manages: the settings sshd really uses,
/// the PAM stack pam-auth-update built, encryption under the PHI folders, the clock, backups,
/// multi-factor authentication and the business associate agreement. Each probe reads only, and
/// says how it looked; a probe that cannot run is reported as such, never passed.
/// </summary>
public sealed class HostProbes(HostRoot root, ICommandRunner runner)
{
    /// <summary>Paths the profile chose (the backup log folder), with the shipped defaults.</summary>
    public string BackupLogDirectory { get; init; } = "/var/log/hipaa-backup";

    public async Task<ImmutableArray<Control>> RunAsync(Plan plan, ImmutableSortedDictionary<string, string> variables, CancellationToken ct)
    {
        var controls = ImmutableArray.CreateBuilder<Control>();
        var active = plan.Changes.Select(c => c.Module).ToHashSet(StringComparer.Ordinal);
        controls.Add(await SshdAsync(plan, ct));
        if (active.Contains("account-lockout")) controls.Add(PamStack(plan));
        controls.Add(Encryption(plan, variables));
        controls.Add(await TimeSyncAsync(plan, ct));
        controls.Add(await TlsAsync(ct));
        controls.Add(await BackupsAsync(plan, active.Contains("backups"), ct));
        controls.Add(await MultiFactorAsync(ct));
        controls.Add(Agreement(variables));
        return controls.ToImmutable();
    }

    private static Control Make(string id, string title, string[] citations, ControlStatus status, string summary, IEnumerable<Finding> findings) =>
        new(id, title, [.. citations.Select(ComplianceCheck.Cite)], status, summary, [.. findings]);

    private string Run(string command) => ComplianceCheck.InRoot(command, root.Path);

    private async Task<Control> SshdAsync(Plan plan, CancellationToken ct)
    {
        const string id = "ssh-effective", title = "sshd's effective settings (sshd -T) are the profile's, globally and per Match block";
        string[] citations = ["164.312(a)(1)", "164.312(d)", "164.312(e)(1)"];
        if (!plan.Expected.Any(e => e.Source == Planner.SshdValidator))
            return Make(id, title, citations, ControlStatus.NotApplicable, "the profile manages no sshd settings", []);
        try
        {
            var settings = await SshdEffective.ReadAsync(runner, plan, ct);
            var findings = settings.Select(s => new Finding($"sshd -T{(s.Connection is null ? "" : $" -C {s.Connection}")}: {s.Key}", s.Satisfied,
                s.Effective ?? "(not reported)", s.Wanted, Run(s.Connection is null ? "sshd -T" : $"sshd -T -C {ComplianceCheck.Quote(s.Connection)}"))).ToList();
            var failed = findings.Count(f => !f.Passed);
            return Make(id, title, citations, failed == 0 ? ControlStatus.Pass : ControlStatus.Fail,
                failed == 0 ? $"{findings.Count} effective setting(s) as wanted" : $"{failed} of {findings.Count} effective setting(s) differ", findings);
        }
        catch (HardenException e)
        {
            return Make(id, title, citations, ControlStatus.Fail, "sshd -T could not run, so the effective settings are unknown", [new("sshd -T", false, e.Message, "sshd -T succeeds", Run("sshd -T"))]);
        }
    }

    /// <summary>pam-auth-update writes the common-* files from the pam-configs profiles: the modules must be in them, not only in the profiles.</summary>
    private Control PamStack(Plan plan)
    {
        (string File, string Module)[] wanted =
        [
            ("/etc/pam.d/common-auth", "pam_faillock.so"),
            ("/etc/pam.d/common-account", "pam_faillock.so"),
            ("/etc/pam.d/common-password", "pam_pwquality.so"),
            ("/etc/pam.d/common-password", "pam_pwhistory.so"),
        ];
        var findings = wanted.Where(w => w.Module != "pam_pwhistory.so" || plan.Changes.Any(c => c.Module == "password-history")).Select(w =>
        {
            var lines = Lines(w.File).Where(l => !l.TrimStart().StartsWith('#') && l.Contains(w.Module, StringComparison.Ordinal)).ToList();
            return new Finding($"{w.File}: {w.Module}", lines.Count > 0, lines.Count > 0 ? Profiles.VariableDefinition.Printable(string.Join(" | ", lines.Select(l => l.Trim()))) : "not in the stack",
                $"{w.Module} in the stack", Run($"grep -n {w.Module} {w.File}"));
        }).ToList();
        var failed = findings.Count(f => !f.Passed);
        return Make("pam-stack", "The PAM stack really calls faillock, pwquality and pwhistory", ["164.312(a)(1)", "164.312(d)", "164.308(a)(5)(ii)(D)"],
            failed == 0 ? ControlStatus.Pass : ControlStatus.Fail, failed == 0 ? "every module in the stack" : $"{failed} module(s) missing from the stack", findings);
    }

    private IEnumerable<string> Lines(string path)
    {
        var (entry, content) = root.Read(path, 1 << 20);
        return entry.Kind == EntryKind.File && content is not null ? Encoding.UTF8.GetString(content).Split('\n') : [];
    }

    /// <summary>
    /// Encryption at rest is addressable: no tool can add it to a running host, so it is measured and
    /// reported, and a folder without it is for a person to document (manual), not a failure.
    /// </summary>
    private Control Encryption(Plan plan, ImmutableSortedDictionary<string, string> variables)
    {
        const string id = "encryption-at-rest", title = "PHI folders on encrypted storage (dm-crypt/LUKS)";
        string[] citations = ["164.312(a)(2)(iv)"];
        var folders = variables.GetValueOrDefault("phi_directories", "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (!root.IsLive)
            return Make(id, title, citations, ControlStatus.NotApplicable, "an offline image: encryption belongs to the running host's block devices", []);
        var mounts = Mounts();
        var findings = folders.Select(folder =>
        {
            // The last mount listed at the longest point is the one on top (an earlier one there is hidden under it).
            var mount = mounts.Where(m => folder == m.Point || folder.StartsWith(m.Point.TrimEnd('/') + "/", StringComparison.Ordinal)).OrderBy(m => m.Point.Length).LastOrDefault();
            if (mount is null) return new Finding(folder, false, "no mount found", "on a dm-crypt device", "findmnt -T " + folder);
            var chain = CryptChain(mount.Device);
            return new Finding(folder, chain is not null, chain is not null ? $"{mount.Point} on {mount.Source}, through {chain}" : $"{mount.Point} on {mount.Source} ({mount.FsType}), no dm-crypt layer",
                "on a dm-crypt device", $"findmnt -T {folder} && lsblk -s -o NAME,TYPE $(findmnt -n -o SOURCE -T {folder})");
        }).ToList();
        var plain = findings.Count(f => !f.Passed);
        return Make(id, title, citations, plain == 0 ? ControlStatus.Pass : ControlStatus.Manual,
            plain == 0 ? "every PHI folder is on encrypted storage" : $"{plain} PHI folder(s) not on dm-crypt: encrypt the volume, or document the equivalent measure (164.312(a)(2)(iv) is addressable)", findings);
    }

    private sealed record Mount(string Point, string Device, string Source, string FsType);

    private static List<Mount> Mounts()
    {
        // /proc/self/mountinfo: ID PARENT MAJ:MIN ROOT POINT OPTIONS ... - FSTYPE SOURCE SUPER
        var mounts = new List<Mount>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var parts = line.Split(' ');
            var dash = Array.IndexOf(parts, "-");
            if (parts.Length < 5 || dash < 0 || dash + 2 >= parts.Length) continue;
            mounts.Add(new Mount(Unescape(parts[4]), parts[2], Unescape(parts[dash + 2]), parts[dash + 1]));
        }
        return mounts;
    }

    private static string Unescape(string s) => System.Text.RegularExpressions.Regex.Replace(s, @"\\([0-7]{3})", m => ((char)Convert.ToInt32(m.Groups[1].Value, 8)).ToString());

    /// <summary>Walks a block device down through its slaves (LVM on LUKS, RAID…) to a dm-crypt layer; null when there is none.</summary>
    private static string? CryptChain(string majorMinor, int depth = 0)
    {
        if (depth > 8) return null;
        var sys = $"/sys/dev/block/{majorMinor}";
        var uuid = Path.Combine(sys, "dm", "uuid");
        var name = Path.Combine(sys, "dm", "name");
        if (File.Exists(uuid) && File.ReadAllText(uuid).StartsWith("CRYPT-", StringComparison.Ordinal))
            return $"dm-crypt {(File.Exists(name) ? File.ReadAllText(name).Trim() : majorMinor)} ({File.ReadAllText(uuid).Trim().Split('-').ElementAtOrDefault(1)})";
        var slaves = Path.Combine(sys, "slaves");
        if (!Directory.Exists(slaves)) return null;
        foreach (var slave in Directory.GetDirectories(slaves))
        {
            var dev = Path.Combine(slave, "dev");
            if (File.Exists(dev) && CryptChain(File.ReadAllText(dev).Trim(), depth + 1) is { } found) return found;
        }
        return null;
    }

    private async Task<Control> TimeSyncAsync(Plan plan, CancellationToken ct)
    {
        const string id = "time-synchronised", title = "The clock is synchronised (one time base for every audit trail)";
        string[] citations = ["164.312(b)"];
        if (!root.IsLive)
            return Make(id, title, citations, ControlStatus.NotApplicable, "an offline image has no running clock service", []);
        var result = await runner.RunAsync(["timedatectl", "show", "--property=NTPSynchronized", "--value"], ct);
        var synced = result.Succeeded && result.StandardOutput.Trim() == "yes";
        return Make(id, title, citations, synced ? ControlStatus.Pass : ControlStatus.Fail, synced ? "synchronised" : "not synchronised",
            [new("NTPSynchronized", synced, result.Succeeded ? result.StandardOutput.Trim() : $"timedatectl failed: {result.Message}", "yes", "timedatectl show --property=NTPSynchronized")]);
    }

    /// <summary>Listening TCP ports from /proc/net/tcp{,6}: the address to reach each from this host, at most <paramref name="limit"/>.</summary>
    public static IReadOnlyList<string> ListeningEndpoints(IEnumerable<string> tcp4, IEnumerable<string> tcp6, int limit = 32)
    {
        static IEnumerable<string> Parse(IEnumerable<string> lines, bool v6) => lines.Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 3 && f[3] == "0A" && f[1].Contains(':', StringComparison.Ordinal))
            .Select(f =>
            {
                var (addr, port) = (f[1][..f[1].IndexOf(':', StringComparison.Ordinal)], Convert.ToInt32(f[1][(f[1].IndexOf(':', StringComparison.Ordinal) + 1)..], 16));
                if (!v6)
                {
                    var bytes = Convert.FromHexString(addr);
                    Array.Reverse(bytes);
                    var ip = new System.Net.IPAddress(bytes);
                    return System.Net.IPAddress.Any.Equals(ip) ? $"127.0.0.1:{port}" : $"{ip}:{port}";
                }
                var raw = Convert.FromHexString(addr);
                for (var i = 0; i < 16; i += 4) Array.Reverse(raw, i, 4);
                var ip6 = new System.Net.IPAddress(raw);
                return System.Net.IPAddress.IPv6Any.Equals(ip6) ? $"[::1]:{port}" : $"[{ip6}]:{port}";
            });
        return [.. Parse(tcp4, false).Concat(Parse(tcp6, true)).Distinct(StringComparer.Ordinal).Take(limit)];
    }

    /// <summary>
    /// Every listening TCP service is offered a TLS handshake: those that speak TLS must refuse
    /// TLS 1.0 and 1.1 (transmission security). Measured with openssl s_client, 5 s per attempt.
    /// </summary>
    private async Task<Control> TlsAsync(CancellationToken ct)
    {
        const string id = "tls-versions", title = "Services that speak TLS refuse TLS 1.0 and 1.1";
        string[] citations = ["164.312(e)(1)", "164.312(e)(2)(ii)"];
        if (!root.IsLive)
            return Make(id, title, citations, ControlStatus.NotApplicable, "an offline image has no listening services", []);
        static IEnumerable<string> Lines(string path) => File.Exists(path) ? File.ReadLines(path) : [];
        var endpoints = ListeningEndpoints(Lines("/proc/net/tcp"), Lines("/proc/net/tcp6"));
        var findings = new List<Finding>();
        foreach (var endpoint in endpoints)
        {
            async Task<CommandResult> Handshake(params string[] version) =>
                await runner.RunAsync(["timeout", "5", "openssl", "s_client", "-connect", endpoint, "-brief", .. version], ct);
            var modern = await Handshake("-tls1_2");
            if (modern.ExitCode == 127 || modern.StandardError.Contains("openssl: No such file", StringComparison.Ordinal))
                return Make(id, title, citations, ControlStatus.Manual, "openssl is not installed, so TLS versions were not measured (apt install openssl)", []);
            if (!modern.Succeeded) modern = await Handshake("-tls1_3");
            if (!modern.Succeeded) continue;
            var old = await Handshake("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0");
            findings.Add(new Finding(endpoint, !old.Succeeded, old.Succeeded ? "accepts TLS 1.1" : "refuses TLS 1.1 and older", "TLS 1.2 or 1.3 only",
                $"openssl s_client -connect {endpoint} -tls1_1 -cipher DEFAULT@SECLEVEL=0 </dev/null"));
        }
        if (findings.Count == 0)
            return Make(id, title, citations, ControlStatus.NotApplicable, $"none of the {endpoints.Count} listening TCP port(s) speaks TLS", []);
        var weak = findings.Count(f => !f.Passed);
        return Make(id, title, citations, weak == 0 ? ControlStatus.Pass : ControlStatus.Fail,
            weak == 0 ? $"{findings.Count} TLS service(s), none accepts TLS 1.1 or older" : $"{weak} of {findings.Count} TLS service(s) accept TLS 1.1 or older", findings);
    }

    private async Task<Control> BackupsAsync(Plan plan, bool configured, CancellationToken ct)
    {
        const string id = "backup-evidence", title = "A PHI backup ran and a test restore passed";
        string[] citations = ["164.308(a)(7)(ii)(A)", "164.308(a)(7)(ii)(B)"];
        if (!configured)
            return Make(id, title, citations, ControlStatus.Manual, "no restic repository configured (set backup_repository and backup_password_file), or backups are made another way: record how", []);
        var findings = new List<Finding>();
        var logFile = $"{BackupLogDirectory}/restore-tests.log";
        var log = Lines(logFile).Where(l => l.Length > 0).LastOrDefault();
        // hipaa-restore-test writes "<ISO time> restore test passed: …"; only such a line, from the last 40 days, counts.
        var passed = log is not null && System.Text.RegularExpressions.Regex.Match(log, @"^(\S+) restore test passed:") is { Success: true } m
            && DateTimeOffset.TryParse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var restoredAt)
            && DateTimeOffset.UtcNow - restoredAt < TimeSpan.FromDays(40);
        findings.Add(new("last test restore", passed, log is null ? "no test restore recorded yet" : Profiles.VariableDefinition.Printable(log),
            "a test restore passed in the last 40 days", Run($"tail -n 1 {logFile}")));
        if (root.IsLive)
        {
            var show = await runner.RunAsync(["systemctl", "show", "hipaa-backup.service", "--property=ExecMainStatus", "--property=ExecMainExitTimestamp"], ct);
            var props = show.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
            var ran = props.GetValueOrDefault("ExecMainExitTimestamp", "") is { Length: > 0 } when;
            var ok = ran && props.GetValueOrDefault("ExecMainStatus") == "0";
            findings.Add(new("last backup", ok, ran ? $"ended {props["ExecMainExitTimestamp"]} with status {props.GetValueOrDefault("ExecMainStatus")}" : "no backup has run since boot",
                "a backup that ended with status 0", "systemctl status hipaa-backup.service"));
        }
        var failed = findings.Count(f => !f.Passed);
        return Make(id, title, citations, failed == 0 ? ControlStatus.Pass : ControlStatus.Manual,
            failed == 0 ? "backup and test restore recorded" : "no successful backup or test restore recorded yet: run them once and check again", findings);
    }

    /// <summary>
    /// A second factor counts only when sshd asks for it: a required (not nullok) PAM module in
    /// /etc/pam.d/sshd, keyboard-interactive enabled, and AuthenticationMethods naming it (sshd -T).
    /// </summary>
    private async Task<Control> MultiFactorAsync(CancellationToken ct)
    {
        string[] modules = ["pam_google_authenticator.so", "pam_oath.so", "pam_u2f.so", "pam_duo.so", "pam_yubico.so"];
        var pam = Lines("/etc/pam.d/sshd").Select(l => l.Trim()).Where(l => !l.StartsWith('#') && modules.Any(m => l.Contains(m, StringComparison.Ordinal))).ToList();
        var enforced = pam.Where(l => l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries) is { Length: > 2 } f && f[0] == "auth"
            && (f[1] is "required" or "requisite" || f[1].StartsWith('[')) && !l.Contains("nullok", StringComparison.Ordinal)).ToList();
        var sshd = await runner.RunAsync(["sshd", "-T"], ct);
        var effective = sshd.StandardOutput.Split('\n').Select(l => l.Split(' ', 2)).Where(p => p.Length == 2).GroupBy(p => p[0]).ToDictionary(g => g.Key, g => g.First()[1].Trim());
        var methods = effective.GetValueOrDefault("authenticationmethods", "(sshd -T failed)");
        var keyboard = effective.GetValueOrDefault("kbdinteractiveauthentication", "no") == "yes";
        var asked = methods.Contains("keyboard-interactive", StringComparison.Ordinal) && keyboard;
        var findings = new List<Finding>
        {
            new("/etc/pam.d/sshd", enforced.Count > 0, pam.Count == 0 ? "no second-factor PAM module" : Profiles.VariableDefinition.Printable(string.Join(" | ", pam)),
                "a second-factor module as required, without nullok", Run("grep -nE 'pam_(google_authenticator|oath|u2f|duo|yubico)' /etc/pam.d/sshd")),
            new("sshd -T: authenticationmethods", asked, $"authenticationmethods {methods}, kbdinteractiveauthentication {(keyboard ? "yes" : "no")}",
                "publickey,keyboard-interactive (and kbdinteractiveauthentication yes)", Run("sshd -T")),
        };
        var present = findings.All(f => f.Passed);
        return Make("ssh-multi-factor", "Multi-factor authentication for SSH", ["164.312(d)"], present ? ControlStatus.Pass : ControlStatus.Manual,
            present ? "sshd requires a key and a second factor" : "sshd does not require a second factor: record whether one is required elsewhere (VPN, bastion) or add one", findings);
    }

    private static Control Agreement(ImmutableSortedDictionary<string, string> variables)
    {
        var reference = variables.GetValueOrDefault("baa_reference", "");
        return Make("business-associate-agreement", "A signed business associate agreement covers this host's hosting and services", ["164.308(b)(1)"],
            reference.Length > 0 ? ControlStatus.Pass : ControlStatus.Manual,
            reference.Length > 0 ? $"recorded: {reference}" : "not recorded: set baa_reference (e.g. --set baa_reference=BAA-2026-014) once the agreement is signed",
            [new("baa_reference", reference.Length > 0, reference.Length > 0 ? reference : "(not set)", "the signed agreement's reference", "")]);
    }
}
