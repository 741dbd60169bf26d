using System.Collections.Immutable;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Harden.Checking;
using Harden.Execution;
using Harden.Host;

namespace Harden.Evidence;

/// <summary>One file of the bundle and how it was made: the command (or the file read), its exit code, or why it could not be made.</summary>
public sealed record EvidenceItem(string File, string Title, string Source, int? ExitCode, string Status, string Sha256);

/// <summary>manifest.json of a bundle: who made it, for what, when, and every file in it with its digest.</summary>
public sealed record EvidenceManifest(
    int FormatVersion,
    string Tool,
    string Profile,
    string Host,
    string Root,
    bool Live,
    string Platform,
    DateTimeOffset Time,
    CheckCounts Check,
    ImmutableArray<EvidenceItem> Items)
{
    public const int CurrentFormatVersion = 1;
}

/// <summary>
/// harden evidence: the seed's risk-assessment snapshot, done so an auditor can rely on it. Each
/// subject is its own file, made by a named command (through chroot for an offline root) or read
/// from a named file; a command that is absent or fails is recorded with its exit code and output,
/// never left out. The bundle ends with manifest.json and SHA256SUMS (sha256sum -c verifies it), and
/// is built in a private temporary folder renamed into place only when whole.
/// </summary>
public sealed partial class EvidenceBundle(HostRoot root, ICommandRunner runner)
{
    public const string SumsFile = "SHA256SUMS";
    public const string ManifestFile = "manifest.json";
    private const UnixFileMode PrivateFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode PrivateFolder = PrivateFile | UnixFileMode.UserExecute;

    private sealed record Source(string File, string Title, string[]? Argv = null, string? Path = null, bool LiveOnly = false, Func<string>? Text = null);

    /// <summary>The ssh-keygen -Y namespace of a bundle's signature, so it cannot be passed off as a signature of anything else.</summary>
    public const string SignatureNamespace = "harden-evidence";

    /// <summary>Where the drift timer keeps its report (the profile's drift_check_report).</summary>
    public string DriftReport { get; init; } = "/var/lib/harden/last-check.json";

    public async Task<EvidenceManifest> WriteAsync(string outDir, CheckReport check, string? signingKey, Action<string> progress, CancellationToken ct)
    {
        var target = System.IO.Path.GetFullPath(outDir).TrimEnd('/');
        if (target.Length == 0) throw new HardenException("--out / is not a new folder");
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
            throw new HardenException($"--out {outDir} exists and is not empty; name a new folder (evidence is never mixed with older files)");
        if (File.Exists(target)) throw new HardenException($"--out {outDir} is a file; name a new folder");
        var parent = System.IO.Path.GetDirectoryName(target) ?? "/";
        if (!Directory.Exists(parent)) throw new HardenException($"the folder {parent} for --out does not exist");
        // A random name made by mkdir itself (which fails on anything already there, a link included):
        // in a shared parent nobody can hand harden a folder of theirs to fill.
        // The process's id is in the name, so a later run can tell a killed run's folder from a live one.
        RemoveStaleStaging(parent, progress);
        var staging = System.IO.Path.Combine(parent, $".{System.IO.Path.GetFileName(target)}.tmp-{Environment.ProcessId}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8))}");
        if (Native.TryMkdir(staging, (uint)PrivateFolder) is var errno and not 0)
            throw new HardenException($"cannot create {staging}: {Native.Describe(errno)}");
        try
        {
            Written.Clear();
            var items = new List<EvidenceItem>();
            foreach (var source in Sources(check))
            {
                ct.ThrowIfCancellationRequested();
                progress($"  {source.File}: {source.Title}");
                items.Add(await CollectAsync(staging, source, ct));
            }
            items.Add(Write(staging, "check.json", "harden check: every control with its citation and evidence", "harden check --format json", 0, "ok",
                JsonSerializer.Serialize(check, HardenJson.Default.CheckReport)));
            items.AddRange(Runs(staging));
            var manifest = new EvidenceManifest(EvidenceManifest.CurrentFormatVersion, check.Tool, check.Profile, check.Host, check.Root, check.Live,
                check.Platform, check.Time, check.Counts, [.. items]);
            WriteFile(staging, ManifestFile, JsonSerializer.Serialize(manifest, HardenJson.Default.EvidenceManifest));
            // The sums are of the bytes harden wrote, never read back: nothing swapped in between is vouched for.
            var sums = new StringBuilder();
            foreach (var (file, digest) in Written) sums.Append(Invariant($"{digest}  {file}\n"));
            WriteFile(staging, SumsFile, sums.ToString());
            if (signingKey is not null) await SignAsync(System.IO.Path.Combine(staging, SumsFile), signingKey, ct);
            if (Directory.Exists(target)) Directory.Delete(target);
            Directory.Move(staging, target);
            return manifest;
        }
        catch
        {
            Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\..+\.tmp-([0-9]{1,10})-[0-9a-f]{16}$")]
    private static partial System.Text.RegularExpressions.Regex StagingName();

    /// <summary>
    /// Staging folders that killed evidence runs left in <paramref name="parent"/> (copies of host
    /// files): only harden's own kind (its name pattern, a real folder, never a link, owned by this
    /// user, mode 0700) whose process is gone. Nothing else is touched, and nothing is followed.
    /// </summary>
    private static void RemoveStaleStaging(string parent, Action<string> progress)
    {
        // Only root's own staging folders, and only when running as root (the evidence command's normal case).
        if (!Environment.IsPrivilegedProcess) return;
        using var dir = Native.TryOpenAt(null, parent, Native.ORdOnly | Native.ODirectory, 0, out _);
        if (dir is null) return;
        foreach (var path in Directory.EnumerateDirectories(parent))
        {
            var name = System.IO.Path.GetFileName(path);
            if (StagingName().Match(name) is not { Success: true } m) continue;
            if (Native.TryStatAt(dir, name, out var stat) != 0 || stat.Type != Native.DirectoryType || stat.Uid != 0 || stat.Mode != PrivateFolder) continue;
            if (Directory.Exists($"/proc/{m.Groups[1].Value}")) continue;
            // Directory.Delete removes links inside as links, never what they point to.
            Directory.Delete(path, recursive: true);
            progress($"  removed {path}, left by an evidence run that was stopped");
        }
    }

    /// <summary>ssh-keygen -Y sign on this machine (the key is the operator's, never the target's): SHA256SUMS.sig beside the sums.</summary>
    private static async Task SignAsync(string sums, string key, CancellationToken ct)
    {
        if (!File.Exists(key)) throw new HardenException($"--sign {key}: no such key file");
        var result = await CliWrap.Buffered.BufferedCommandExtensions.ExecuteBufferedAsync(
            CliWrap.Cli.Wrap("ssh-keygen").WithArguments(["-q", "-Y", "sign", "-f", System.IO.Path.GetFullPath(key), "-n", SignatureNamespace, sums])
                .WithStandardInputPipe(CliWrap.PipeSource.Null).WithValidation(CliWrap.CommandResultValidation.None), ct);
        if (result.ExitCode != 0)
            throw new HardenException($"ssh-keygen -Y sign with {key} failed (exit {result.ExitCode}): {result.StandardError.Trim()}; no bundle was written");
        File.SetUnixFileMode(sums + ".sig", PrivateFile);
    }

    private static string Invariant(FormattableString s) => FormattableString.Invariant(s);

    /// <summary>Every file written to the bundle with the digest of the bytes written, by bundle path.</summary>
    private readonly SortedDictionary<string, string> Written = new(StringComparer.Ordinal);

    private IEnumerable<Source> Sources(CheckReport check) =>
    [
        // uname in a chroot would name this machine's kernel, not the image's: live only.
        new("host.txt", "host, release and kernel", ["uname", "-a"], LiveOnly: true, Text: () => HostText(check)),
        // /etc/os-release is a link to /usr/lib/os-release on Debian; links are never followed.
        new("os-release.txt", "the release as os-release says it", Path: "/usr/lib/os-release"),
        new("encryption.txt", "block devices and their encryption (lsblk)", ["lsblk", "--output", "NAME,TYPE,FSTYPE,SIZE,MOUNTPOINTS"], LiveOnly: true),
        new("encryption-dm.txt", "dm-crypt mappings (dmsetup table --target crypt, keys not shown)", ["dmsetup", "table", "--target", "crypt", "--showkeys=no"], LiveOnly: true),
        new("crypttab.txt", "volumes unlocked at boot (/etc/crypttab)", Path: "/etc/crypttab"),
        new("firewall.txt", "firewall rules loaded in the kernel (nft list ruleset)", ["nft", "list", "ruleset"], LiveOnly: true),
        new("firewall-config.txt", "firewall rules loaded at boot (/etc/nftables.conf)", Path: "/etc/nftables.conf"),
        new("listening-ports.txt", "listening TCP and UDP sockets and their programs (ss -tulpn)", ["ss", "-tulpn"], LiveOnly: true),
        new("accounts.txt", "interactive accounts (a login shell) and their last login", ["lastlog"], Text: () => AccountsText()),
        new("password-aging.txt", "password aging of each interactive account (chage -l)", Argv: ["sh", "-c", "for u in $(awk -F: '$7 !~ /(nologin|false)$/ {print $1}' /etc/passwd); do echo \"== $u\"; chage -l -- \"$u\"; done"]),
        new("login.defs.txt", "password policy defaults (/etc/login.defs)", Path: "/etc/login.defs"),
        new("pwquality.txt", "password strength (/etc/security/pwquality.conf)", Path: "/etc/security/pwquality.conf"),
        new("faillock.txt", "account lockout (/etc/security/faillock.conf)", Path: "/etc/security/faillock.conf"),
        new("pam-common-auth.txt", "the PAM authentication stack (/etc/pam.d/common-auth)", Path: "/etc/pam.d/common-auth"),
        new("pam-common-password.txt", "the PAM password stack (/etc/pam.d/common-password)", Path: "/etc/pam.d/common-password"),
        new("sshd-effective.txt", "sshd's effective settings (sshd -T)", ["sshd", "-T"]),
        new("audit-rules-loaded.txt", "audit rules loaded in the kernel (auditctl -l)", ["auditctl", "-l"], LiveOnly: true),
        new("audit-rules.txt", "audit rules loaded at boot (/etc/audit/audit.rules)", Path: "/etc/audit/audit.rules"),
        new("failed-logins.txt", "failed logins of the last 7 days (lastb)", ["lastb", "--since", "-7days"]),
        new("failed-logins-journal.txt", "failed SSH authentications of the last 7 days (journalctl)", ["journalctl", "--since", "-7d", "--no-pager", "--output", "short-iso", "--grep", "Failed password|Invalid user|authentication failure|maximum authentication attempts"], LiveOnly: true),
        new("packages.txt", "installed packages and versions (dpkg-query)", ["dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\\n"]),
        new("last-check.json", "the drift timer's latest harden check", Path: DriftReport),
    ];

    private async Task<EvidenceItem> CollectAsync(string staging, Source source, CancellationToken ct)
    {
        if (source.Path is { } path)
        {
            var (entry, content) = ReadTarget(path);
            return entry.Kind switch
            {
                EntryKind.File when content is not null => Write(staging, source.File, source.Title, $"file {path}", null, "ok", Encoding.UTF8.GetString(content)),
                EntryKind.Missing => Write(staging, source.File, source.Title, $"file {path}", null, "absent", $"{path} does not exist on this host\n"),
                _ => Write(staging, source.File, source.Title, $"file {path}", null, "refused", $"{path} is not a regular file of sane size (a link, a device or too big); not read\n"),
            };
        }
        var prefix = source.Text?.Invoke() ?? "";
        if (source.Argv is not { } argv)
            return Write(staging, source.File, source.Title, "harden", null, "ok", prefix);
        var display = CliWrapCommandRunner.Display(argv);
        if (source.LiveOnly && !root.IsLive)
            return Write(staging, source.File, source.Title, display, null, "not-applicable", prefix + $"not collected: '{display}' describes a running host, and {root.Path} is an offline root\n");
        var result = await runner.RunAsync(argv, ct);
        var status = result.ExitCode switch { 0 => "ok", 127 => "absent", _ => "failed" };
        var body = new StringBuilder(prefix);
        body.Append(Invariant($"$ {(root.IsProcessRoot ? "" : $"chroot {root.Path} ")}{display}\n# exit {result.ExitCode}{(status == "absent" ? " (the program is not installed)" : "")}\n"));
        body.Append(result.StandardOutput);
        if (result.StandardError.Length > 0) body.Append("\n# stderr\n").Append(result.StandardError);
        return Write(staging, source.File, source.Title, display, result.ExitCode, status, body.ToString());
    }

    private (Entry Entry, byte[]? Content) ReadTarget(string path)
    {
        try
        {
            return root.Read(path, 16 << 20);
        }
        catch (PathBlockedException)
        {
            return (Entry.Missing with { Kind = EntryKind.Symlink }, null);
        }
    }

    private string HostText(CheckReport check) =>
        Invariant($"host: {check.Host}\nrelease: {check.Platform}\ntarget: {(check.Live ? "this host (live)" : $"offline root {check.Root}")}\ncollected: {check.Time:yyyy-MM-dd'T'HH:mm:ss'Z'} by harden {check.Tool}\n\n");

    private string AccountsText()
    {
        var (_, content) = ReadTarget("/etc/passwd");
        var lines = content is null ? [] : Encoding.UTF8.GetString(content).Split('\n');
        var sb = new StringBuilder("# account:uid:home:shell (every account with a login shell)\n");
        // The same rule as everywhere else: an empty shell field is /bin/sh (passwd(5)).
        foreach (var fields in lines.Select(l => l.Split(':')).Where(f => f.Length >= 7 && new UserAccount(f[0], 0, 0, f[5], f[6]).CanLogIn))
            sb.Append(Profiles.VariableDefinition.Printable($"{fields[0]}:{fields[2]}:{fields[5]}:{fields[6]}")).Append('\n');
        return sb.Append('\n').ToString();
    }

    /// <summary>Every harden run on the host, each manifest as recorded (verified before it is copied).</summary>
    private IEnumerable<EvidenceItem> Runs(string staging)
    {
        var (valid, refused) = RunJournal.Scan(root);
        Directory.CreateDirectory(System.IO.Path.Combine(staging, "runs"), PrivateFolder);
        var list = new StringBuilder("# run  sequence  profile  state  started  finished  changes\n");
        foreach (var run in valid.OrderBy(r => r.Record.Sequence))
        {
            var r = run.Record;
            list.Append(Profiles.VariableDefinition.Printable(Invariant($"{r.RunId}  {r.Sequence}  {r.Profile}  {r.State}  {r.Started:yyyy-MM-dd'T'HH:mm:ss'Z'}  {r.Finished?.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture) ?? "-"}  {r.Entries.Length}"))).Append('\n');
            yield return Write(staging, $"runs/{r.RunId}.json", $"harden run {r.RunId}", $"file {RunJournal.RunsDirectory}/{r.RunId}/manifest.json", null, "ok",
                JsonSerializer.Serialize(r, HardenJson.Default.RunRecord));
        }
        foreach (var why in refused) list.Append("# refused (does not verify): ").Append(Profiles.VariableDefinition.Printable(why)).Append('\n');
        yield return Write(staging, "runs.txt", "every harden run on this host, oldest first", $"folder {RunJournal.RunsDirectory}", null, "ok", list.ToString());
    }

    private EvidenceItem Write(string staging, string file, string title, string source, int? exitCode, string status, string text)
    {
        // A note that something is missing is text, whatever the file would have been.
        if (status != "ok" && file.EndsWith(".json", StringComparison.Ordinal)) file = file[..^".json".Length] + ".txt";
        var sha = WriteFile(staging, file, text);
        return new EvidenceItem(file, title, source, exitCode, status, sha);
    }

    private string WriteFile(string staging, string file, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (file != SumsFile) Written[file] = Digest(bytes);
        var path = System.IO.Path.Combine(staging, file);
        using (var stream = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = PrivateFile }))
        {
            stream.Write(bytes);
            stream.Flush(flushToDisk: true);
        }
        return Digest(bytes);
    }

    private static string Digest(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
