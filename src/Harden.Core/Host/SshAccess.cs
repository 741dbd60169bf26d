using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Harden.Planning;

namespace Harden.Host;

/// <summary>Whether sshd would accept a key login for a user, and if not, the first reason why.</summary>
/// <param name="Problem">Null when at least one usable key is where sshd looks; else what stops it.</param>
public sealed record KeyAccess(int UsableKeys, string? Problem)
{
    /// <summary>Keys sshd would accept with StrictModes off (the file's or a folder's owner or mode would not stop it).</summary>
    public int KeysWithoutStrictModes { get; init; }

    /// <summary>Each file that holds a usable key, with every folder from / down to it as it is now (path, mode, owner, group).</summary>
    public ImmutableArray<(string File, ImmutableArray<(string Path, UnixFileMode Mode, uint Uid, uint Gid)> Folders)> KeyFiles { get; init; } = [];

    public static readonly KeyAccess None = new(0, "has no key in ~/.ssh/authorized_keys");
}

/// <summary>
/// Reads what sshd itself checks before it accepts a public key: the files the effective
/// AuthorizedKeysFile names (with %h, %u, %%), each line a well-formed key of a type OpenSSH still
/// accepts, and StrictModes: the file and every folder up to the home owned by the user or root
/// and not writable by group or others. Account expiry and login shells are read beside it.
/// </summary>
public static class SshAccess
{
    private const string DefaultAuthorizedKeysFile = ".ssh/authorized_keys .ssh/authorized_keys2";

    // OpenSSH 8.x-9.x default PubkeyAcceptedAlgorithms, by key type (ssh-rsa keys sign with rsa-sha2-*).
    private static readonly string[] AcceptedTypes =
    [
        "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com", "sk-ecdsa-sha2-nistp256@openssh.com",
        "ssh-ed25519-cert-v01@openssh.com", "ssh-rsa-cert-v01@openssh.com", "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "sk-ssh-ed25519-cert-v01@openssh.com", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    ];

    public static ImmutableDictionary<string, KeyAccess> Read(HostRoot root, IEnumerable<UserAccount> users, IReadOnlyList<string> sshdFiles)
    {
        var patterns = AuthorizedKeysFiles(root, sshdFiles);
        var result = ImmutableDictionary.CreateBuilder<string, KeyAccess>(StringComparer.Ordinal);
        // Every account with a shell: automation is often a system account (backup, ansible) with a key.
        // SFTP-only accounts too (nologin, but ForceCommand internal-sftp lets them in).
        foreach (var user in users.Where(u => SafePath.IsAbsolute(u.Home) && u.Home != "/"))
        {
            var problems = new List<string>();
            var usable = 0;
            var lax = 0;
            var keyFiles = ImmutableArray.CreateBuilder<(string, ImmutableArray<(string, UnixFileMode, uint, uint)>)>();
            foreach (var pattern in patterns)
            {
                var path = pattern.Replace("%%", "\u0001", StringComparison.Ordinal).Replace("%h", user.Home.TrimEnd('/'), StringComparison.Ordinal)
                    .Replace("%u", user.Name, StringComparison.Ordinal).Replace('\u0001', '%');
                if (!path.StartsWith('/')) path = user.Home.TrimEnd('/') + "/" + path;
                if (!SafePath.IsAbsolute(path)) continue;
                var file = HostReader.ReadFile(root, path);
                if (!file.Exists)
                {
                    if (file.Symlink is not null || file.Special is not null) problems.Add($"{path} is not a regular file harden can read");
                    continue;
                }
                var (good, why) = Keys(Encoding.UTF8.GetString(file.Content));
                lax += good;
                if (good > 0) keyFiles.Add((path, Folders(root, path)));
                if (Unsafe(root, user, path, file) is { } strict)
                {
                    problems.Add(strict);
                    continue;
                }
                usable += good;
                if (good == 0) problems.Add($"{path} {why}");
            }
            result[user.Name] = (usable > 0 ? new KeyAccess(usable, null)
                : new KeyAccess(0, problems.FirstOrDefault() ?? $"has no key in {user.Home.TrimEnd('/')}/.ssh/authorized_keys")) with
                {
                    KeysWithoutStrictModes = lax,
                    KeyFiles = keyFiles.ToImmutable(),
                };
        }
        return result.ToImmutable();
    }

    /// <summary>Every folder from / down to the one holding <paramref name="path"/>, as it is now; one that cannot be read as a folder ends the list.</summary>
    private static ImmutableArray<(string, UnixFileMode, uint, uint)> Folders(HostRoot root, string path)
    {
        var folders = ImmutableArray.CreateBuilder<(string, UnixFileMode, uint, uint)>();
        var parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i < parts.Length; i++)
        {
            var folder = "/" + string.Join('/', parts.Take(i));
            var state = HostReader.ReadDirectory(root, folder);
            if (!state.Exists) break;
            folders.Add((folder, state.Mode, state.Uid, state.Gid));
        }
        return folders.ToImmutable();
    }

    /// <summary>The AuthorizedKeysFile patterns sshd would use: the first global value in the files it reads, else its default.</summary>
    private static string[] AuthorizedKeysFiles(HostRoot root, IReadOnlyList<string> sshdFiles)
    {
        foreach (var path in sshdFiles)
        {
            var file = HostReader.ReadFile(root, path);
            if (!file.Exists) continue;
            if (SshdConfig.Parse(Encoding.UTF8.GetString(file.Content)).FirstOrDefault(s => s.Global && s.Key == "authorizedkeysfile") is { Key: not null } s
                && s.Value.Length > 0)
                return s.Value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        }
        return DefaultAuthorizedKeysFile.Split(' ');
    }

    /// <summary>StrictModes: the file and each folder up to the home owned by the user or root, not group- or world-writable.</summary>
    private static string? Unsafe(HostRoot root, UserAccount user, string path, FileState file)
    {
        const int GroupOrOtherWrite = 0x12; // 022
        bool Bad(uint uid, UnixFileMode mode) => uid != 0 && uid != user.Uid || ((int)mode & GroupOrOtherWrite) != 0;
        if (Bad(file.Uid, file.Mode))
            return $"{path} has mode {Planner.Octal(file.Mode)} owner {file.Uid}, which sshd's StrictModes refuses";
        var home = user.Home.TrimEnd('/');
        for (var dir = Path.GetDirectoryName(path); dir is not null && dir.Length >= home.Length && dir.StartsWith(home, StringComparison.Ordinal); dir = Path.GetDirectoryName(dir))
        {
            var state = HostReader.ReadDirectory(root, dir);
            if (state.Exists && Bad(state.Uid, state.Mode))
                return $"{dir} has mode {Planner.Octal(state.Mode)} owner {state.Uid}, so sshd's StrictModes refuses {path}";
            if (dir == home) break;
        }
        return null;
    }

    /// <summary>Counts lines that are a well-formed public key of an accepted type (options before the type allowed).</summary>
    public static (int Good, string Why) Keys(string text)
    {
        var good = 0;
        var sawDss = false;
        var sawAny = false;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            sawAny = true;
            var words = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            var at = Array.FindIndex(words, w => AcceptedTypes.Contains(w) || w == "ssh-dss");
            if (at < 0 || at + 1 >= words.Length) continue;
            if (words[at] == "ssh-dss")
            {
                sawDss = true;
                continue;
            }
            if (WellFormed(words[at], words[at + 1])) good++;
        }
        return (good, !sawAny ? "is empty" : sawDss ? "has only ssh-dss keys, which OpenSSH no longer accepts" : "has no well-formed public key");
    }

    /// <summary>The base64 blob decodes and starts with its own type name, length-prefixed, as every OpenSSH key does.</summary>
    private static bool WellFormed(string type, string blob)
    {
        var bytes = new byte[blob.Length];
        if (!Convert.TryFromBase64String(blob, bytes, out var length) || length < 4 + type.Length + 4) return false;
        var nameLength = (bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3];
        return nameLength == type.Length && Encoding.ASCII.GetString(bytes, 4, nameLength) == type;
    }

    /// <summary>Accounts whose expiry date (shadow field 8, days since 1970) has passed: PAM refuses them any login.</summary>
    public static ImmutableHashSet<string> Expired(string shadow, DateTimeOffset now)
    {
        var today = (long)(now - DateTimeOffset.UnixEpoch).TotalDays;
        return [.. shadow.Split('\n').Select(l => l.Split(':')).Where(p => p.Length >= 8
                && long.TryParse(p[7], NumberStyles.None, CultureInfo.InvariantCulture, out var day) && day <= today)
            .Select(p => p[0])];
    }
}
