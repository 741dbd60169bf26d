using System.Collections.Concurrent;
using System.Globalization;

namespace Harden.Integration.Tests;

/// <summary>
/// The accounts of a <see cref="LivedInRoot"/>: people and automation as a server in use has them,
/// with password ages in the past, real SSH keys, a crontab and a sudoers drop-in. Fixed names and
/// ages so tests can say who must still get in after harden ran.
/// </summary>
/// <remarks>None of them is in <c>phi-access</c>: that group does not exist in the root.</remarks>
public static class LivedInAccounts
{
    /// <summary>The operator: UID ≥ 1000, bash, a password changed 10 days ago, a key, in group <c>sudo</c>.</summary>
    public const string Alice = "alice";
    public const string AlicePassword = "Alice-lived-in-4711";
    public const int AlicePasswordAgeDays = 10;

    /// <summary>A person whose password is 700 days old with no maximum age: logs in today, a 90-day maximum would expire her at once.</summary>
    public const string Carol = "carol";
    public const string CarolPassword = "Carol-lived-in-0815";
    public const int CarolPasswordAgeDays = 700;

    /// <summary>Key-only person: password field <c>*</c> (no usable password), changed 2000 days ago, no maximum age.</summary>
    public const string Dave = "dave";
    public const int DavePasswordAgeDays = 2000;

    /// <summary>A person whose password expired already (400 days old, maximum 90): a non-interactive key login is refused today.</summary>
    public const string Erin = "erin";
    public const string ErinPassword = "Erin-lived-in-1234";
    public const int ErinPasswordAgeDays = 400;
    public const int ErinMaximumDays = 90;

    /// <summary>Automation: UID ≥ 1000, bash, key-only (<c>!</c>), a crontab and a NOPASSWD sudoers drop-in for systemctl.</summary>
    public const string Deploy = "deploy";
    public const int DeployPasswordAgeDays = 1200;
    public const string DeployCrontabLine = "17 3 * * * /usr/bin/true deploy-nightly";
    public const string DeploySudoersPath = "/etc/sudoers.d/deploy";
    public const string DeploySudoersLine = "deploy ALL=(ALL) NOPASSWD: /usr/bin/systemctl";

    /// <summary>
    /// Automation as a system account (UID &lt; 1000), key-only (<c>*</c>), with a crontab. Debian's
    /// base-passwd already has <c>backup</c> (UID 34, /var/backups, nologin), so <c>useradd --system</c>
    /// would fail: the fixture gives that account bash and a home in /home/backup, as admins do.
    /// </summary>
    public const string Backup = "backup";
    public const int BackupPasswordAgeDays = 900;
    public const string BackupCrontabLine = "42 2 * * * /usr/bin/true backup-nightly";

    /// <summary>root has a key in /root/.ssh/authorized_keys, as on cloud hosts; its shadow entry is the image's.</summary>
    public const string Root = "root";

    public static readonly IReadOnlyList<string> People = [Alice, Carol, Dave, Erin];
    public static readonly IReadOnlyList<string> Automation = [Deploy, Backup];
    /// <summary>Every account with a key pair: people, automation and root.</summary>
    public static readonly IReadOnlyList<string> WithKeys = [.. People, .. Automation, Root];

    /// <summary>Today as the fixture counts it (UTC), and the day <paramref name="daysAgo"/> days before.</summary>
    public static DateOnly DaysAgo(int daysAgo) => DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-daysAgo);

    /// <summary>A date as /etc/shadow stores it: days since 1970-01-01.</summary>
    public static long ShadowDay(DateOnly date) => date.DayNumber - new DateOnly(1970, 1, 1).DayNumber;

    /// <summary>The private key (path, in a folder only root can read) that logs in as <paramref name="account"/> in every lived-in root of this test process.</summary>
    public static string PrivateKey(string account) =>
        KeysAsync().GetAwaiter().GetResult().TryGetValue(account, out var key)
            ? key
            : throw new ArgumentException($"no key pair for {account}: one of {string.Join(", ", WithKeys)}", nameof(account));

    /// <summary>The public half, as authorized_keys holds it.</summary>
    public static string PublicKey(string account) => File.ReadAllText(PrivateKey(account) + ".pub").Trim();

    private static Task<IReadOnlyDictionary<string, string>>? _keys;
    private static readonly Lock KeysGate = new();
    private static readonly ConcurrentBag<string> KeyDirectories = [];

    static LivedInAccounts() =>
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var dir in KeyDirectories)
            {
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                }
            }
        };

    /// <summary>Real ed25519 key pairs made once per test process by this machine's ssh-keygen (ssh's client uses them).</summary>
    internal static Task<IReadOnlyDictionary<string, string>> KeysAsync()
    {
        lock (KeysGate)
        {
            if (_keys is null || _keys.IsFaulted) _keys = GenerateKeysAsync();
            return _keys;
        }
    }

    private static async Task<IReadOnlyDictionary<string, string>> GenerateKeysAsync()
    {
        var dir = Directory.CreateTempSubdirectory("harden-livedin-keys-").FullName; // mode 700, root's
        KeyDirectories.Add(dir);
        var keys = await Task.WhenAll(WithKeys.Select(async account =>
        {
            var key = Path.Combine(dir, $"id_ed25519_{account}");
            await DebianRoot.Run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", $"{account}@lived-in", "-f", key]);
            return (account, key);
        }));
        return keys.ToDictionary(k => k.account, k => k.key, StringComparer.Ordinal);
    }

    /// <summary>Creates the accounts in <paramref name="root"/> with its own tools (chroot), dated from today.</summary>
    internal static async Task PopulateAsync(DebianRoot root)
    {
        await Must(root, "useradd", "-m", "-s", "/bin/bash", "-G", "sudo", Alice);
        foreach (var person in new[] { Carol, Dave, Erin, Deploy })
            await Must(root, "useradd", "-m", "-s", "/bin/bash", person);
        // Debian's own backup account (UID 34) put to use: a shell and a home of its own.
        await Must(root, "usermod", "-s", "/bin/bash", "-d", "/home/backup", Backup);
        await Must(root, "install", "-d", "-o", Backup, "-g", Backup, "-m", "0750", "/home/backup");

        await MustWithInput(root, $"{Alice}:{AlicePassword}\n{Carol}:{CarolPassword}\n{Erin}:{ErinPassword}\n", "chpasswd");
        await Must(root, "usermod", "-p", "*", Dave); // useradd left "!" for dave and deploy: deploy keeps it

        // Ages last: chpasswd and usermod -p date the change today.
        await Chage(root, Alice, AlicePasswordAgeDays);
        await Chage(root, Carol, CarolPasswordAgeDays);
        await Chage(root, Dave, DavePasswordAgeDays);
        await Chage(root, Erin, ErinPasswordAgeDays, "-M", ErinMaximumDays.ToString(CultureInfo.InvariantCulture));
        await Chage(root, Deploy, DeployPasswordAgeDays);
        await Chage(root, Backup, BackupPasswordAgeDays);

        await MustWithInput(root, DeployCrontabLine + "\n", "crontab", "-u", Deploy, "-");
        await MustWithInput(root, BackupCrontabLine + "\n", "crontab", "-u", Backup, "-");

        // Checked with visudo before it goes where sudo reads it, as an admin's tooling would.
        await MustWithInput(root, DeploySudoersLine + "\n", "sh", "-c", "cat > /tmp/deploy.sudoers");
        await Must(root, "visudo", "-cf", "/tmp/deploy.sudoers");
        await Must(root, "install", "-m", "0440", "-o", "root", "-g", "root", "/tmp/deploy.sudoers", DeploySudoersPath);
        File.Delete(root.Map("/tmp/deploy.sudoers"));

        var keys = await KeysAsync();
        foreach (var account in WithKeys) await AuthorizeAsync(root, account, keys[account] + ".pub");
    }

    private static Task Chage(DebianRoot root, string account, int daysAgo, params string[] more) =>
        Must(root, ["chage", "-d", DaysAgo(daysAgo).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), .. more, account]);

    /// <summary>HOME/.ssh/authorized_keys with the account's owner and modes 700/600, so sshd's StrictModes accepts it.</summary>
    private static async Task AuthorizeAsync(DebianRoot root, string account, string publicKey)
    {
        var entry = File.ReadLines(root.Map("/etc/passwd")).Select(l => l.Split(':'))
            .FirstOrDefault(f => f.Length >= 7 && f[0] == account)
            ?? throw new InvalidOperationException($"no user {account} in the root's /etc/passwd");
        var (uid, gid, home) = (entry[2], entry[3], entry[5].TrimEnd('/'));
        var ssh = root.Map(home + "/.ssh");
        var authorized = ssh + "/authorized_keys";
        foreach (var path in new[] { root.Map(home), ssh, authorized })
            if (new FileInfo(path).LinkTarget is not null) throw new InvalidOperationException($"{path} is a symlink");
        Directory.CreateDirectory(ssh);
        await File.AppendAllTextAsync(authorized, await File.ReadAllTextAsync(publicKey));
        await DebianRoot.Run("chown", ["--no-dereference", $"{uid}:{gid}", ssh, authorized]);
        File.SetUnixFileMode(ssh, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.SetUnixFileMode(authorized, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static async Task Must(DebianRoot root, params string[] argv)
    {
        var r = await root.Chroot(argv);
        if (r.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', argv)} in the lived-in root failed ({r.ExitCode}): {r.StandardError}{r.StandardOutput}");
    }

    private static async Task MustWithInput(DebianRoot root, string input, params string[] argv)
    {
        var r = await root.ChrootWithInput(input, argv);
        if (r.ExitCode != 0)
            throw new InvalidOperationException($"{string.Join(' ', argv)} in the lived-in root failed ({r.ExitCode}): {r.StandardError}{r.StandardOutput}");
    }
}
