using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Harden.Execution;
using Harden.Resources;

namespace Harden.Host;

/// <summary>Reads the parts of a root that planning needs. Reads only; never writes.</summary>
public static class HostReader
{
    public const string SshdConfig = "/etc/ssh/sshd_config";
    public const string SshdDropInDir = "/etc/ssh/sshd_config.d";
    private const string DpkgStatus = "/var/lib/dpkg/status";
    public const string ShadowPath = "/etc/shadow";
    public const ulong MaxFileSize = 16UL << 20;
    /// <summary>dpkg's status file grows with the package count; far above any real one.</summary>
    private const ulong MaxStatusSize = 512UL << 20;

    public static HostSnapshot Read(HostRoot root, IEnumerable<HostQuery> needs)
    {
        var queries = needs.Distinct().ToList();
        var dropIns = SshdIncludes(root);
        var paths = queries.Where(q => q.Kind == HostQueryKind.File).Select(q => q.Target)
            .Concat([SshdConfig, "/etc/passwd", "/etc/group", ShadowPath]).Concat(dropIns).Distinct();
        var files = paths.ToImmutableDictionary(p => p, p => ReadFile(root, p));

        var users = ParseUsers(Text(files["/etc/passwd"]));
        var (runs, refused) = RunJournal.Scan(root);
        return new HostSnapshot(
            root.Path,
            root.IsLive,
            files,
            users,
            ParseGroups(Text(files["/etc/group"])),
            ReadInstalledPackages(root),
            dropIns,
            SshAccess.Read(root, users, [SshdConfig, .. dropIns]),
            RunJournal.FindUnfinished(runs)?.RunId)
        {
            Directories = queries.Where(q => q.Kind == HostQueryKind.Directory).Select(q => q.Target).Distinct()
                .ToImmutableDictionary(p => p, p => ReadDirectory(root, p)),
            Services = ServiceReader.Read(root, queries.Where(q => q.Kind == HostQueryKind.Service).Select(q => q.Target)),
            Managed = RunJournal.StillApplied(runs),
            KernelAudit = root.IsLive && queries.Any(q => q.Kind == HostQueryKind.KernelAudit) ? KernelAuditReader.Read() : null,
            RefusedRuns = [.. refused],
            Folders = queries.Where(q => q.Kind == HostQueryKind.FolderFiles).Select(q => q.Target).Distinct().ToImmutableDictionary(d => d, d => ReadFolder(root, d)),
            Listings = queries.Where(q => q.Kind == HostQueryKind.FolderNames).Select(q => q.Target).Distinct().ToImmutableDictionary(d => d, d => ListFolder(root, d)),
            KernelSettings = root.IsLive
                ? queries.Where(q => q.Kind == HostQueryKind.KernelSetting).Select(q => q.Target).Distinct().ToImmutableDictionary(k => k, Host.KernelSettings.Read)
                : ImmutableDictionary<string, string?>.Empty,
            // A home folder is only a path in /etc/passwd until asked for: a human account's is looked at when a module wants them.
            Entries = queries.Where(q => q.Kind == HostQueryKind.Entry).Select(q => q.Target)
                .Concat(queries.Any(q => q.Kind == HostQueryKind.HumanHomes) ? users.Where(u => u.IsHuman && SafePath.IsAbsolute(u.Home) && u.Home != "/").Select(u => u.Home) : [])
                .Distinct().ToImmutableDictionary(p => p, p => StatEntry(root, p)),
            PrivilegedPrograms = queries.Where(q => q.Kind == HostQueryKind.PrivilegedPrograms).Select(q => q.Target).Distinct()
                .ToImmutableDictionary(d => d, d => root.Files.FindFiles(HostRoot.Relative(d), Planning.AuditPrivileged.IsPrivileged).Select(p => "/" + p).ToImmutableArray()),
            // One read of /etc/shadow serves the lockout guard and any resource that asked for it (aging).
            ExpiredAccounts = SshAccess.Expired(Text(files[ShadowPath]), DateTimeOffset.UtcNow),
            Today = Access.ShadowEntry.DayOf(DateTimeOffset.UtcNow),
        };
    }

    /// <summary>Every regular file of a folder (bounded like any read), by name; a missing folder has none.</summary>
    public static ImmutableDictionary<string, FileState> ReadFolder(HostRoot root, string targetPath)
    {
        IReadOnlyList<(string Name, EntryKind Kind)>? entries;
        try
        {
            entries = root.Files.List(HostRoot.Relative(targetPath));
        }
        catch (PathBlockedException)
        {
            entries = null;
        }
        return (entries ?? []).Where(e => e.Kind == EntryKind.File)
            .ToImmutableDictionary(e => e.Name, e => ReadFile(root, $"{targetPath}/{e.Name}"));
    }

    /// <summary>The names in a folder, links included and never followed; a missing folder (or one behind a link) has none.</summary>
    public static ImmutableArray<string> ListFolder(HostRoot root, string targetPath)
    {
        try
        {
            return [.. (root.Files.List(HostRoot.Relative(targetPath)) ?? []).Select(e => e.Name).Order(StringComparer.Ordinal)];
        }
        catch (PathBlockedException)
        {
            return [];
        }
    }

    /// <summary>A path's kind and metadata, never followed; one that goes through a link counts as a link.</summary>
    public static Entry StatEntry(HostRoot root, string targetPath)
    {
        try
        {
            return root.Stat(targetPath);
        }
        catch (PathBlockedException)
        {
            return Entry.Missing with { Kind = EntryKind.Symlink };
        }
    }

    public static DirectoryState ReadDirectory(HostRoot root, string targetPath)
    {
        Entry entry;
        try
        {
            entry = root.Stat(targetPath);
        }
        catch (PathBlockedException e)
        {
            return DirectoryState.Missing with { Symlink = e.Blocker };
        }
        return entry.Kind switch
        {
            EntryKind.Missing => DirectoryState.Missing,
            EntryKind.Symlink => DirectoryState.Missing with { Symlink = $"{root.Map(targetPath)} (a symlink)" },
            EntryKind.Directory => new DirectoryState(true, entry.Mode, entry.Uid, entry.Gid, null),
            _ => DirectoryState.Missing with { NotADirectory = true },
        };
    }

    /// <summary>
    /// A managed file's bytes and metadata. Read through the root's handle, never through a link, and
    /// only when it is a regular file of a sane size (a FIFO would block forever, a huge file would
    /// exhaust memory): anything else is described, not read.
    /// </summary>
    public static FileState ReadFile(HostRoot root, string targetPath, ulong maxSize = MaxFileSize)
    {
        Entry entry;
        byte[]? content;
        try
        {
            (entry, content) = root.Read(targetPath, maxSize);
        }
        catch (PathBlockedException e)
        {
            return FileState.Missing with { Symlink = e.Blocker };
        }
        return entry.Kind switch
        {
            EntryKind.Missing => FileState.Missing,
            EntryKind.Symlink => FileState.Missing with { Symlink = $"{root.Map(targetPath)} (a symlink)" },
            EntryKind.File when content is null => FileState.Missing with { Special = $"a file of {entry.Size} bytes (harden manages files up to {maxSize >> 20} MiB)" },
            EntryKind.File => new FileState(true, content!, entry.Mode, entry.Uid, entry.Gid, null),
            _ => FileState.Missing with { Special = entry.Describe() },
        };
    }

    /// <summary>
    /// Every file sshd reads besides sshd_config, in the order it reads them: each Include (global or
    /// inside a Match block, any spelling, relative to /etc/ssh) expanded as sshd expands its glob, in
    /// lexical order, recursively. Links are listed (so the planner can say it did not follow them)
    /// but never read through.
    /// </summary>
    public static ImmutableArray<string> SshdIncludes(HostRoot root)
    {
        var found = new List<string>();
        void Walk(string path, int depth)
        {
            if (depth > 8) return;
            var file = ReadFile(root, path);
            if (!file.Exists) return;
            foreach (var include in Planning.SshdConfig.Parse(Encoding.UTF8.GetString(file.Content)).Where(s => s.Key == "include"))
            {
                foreach (var glob in include.Value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                {
                    foreach (var target in Expand(root, glob.StartsWith('/') ? glob : "/etc/ssh/" + glob))
                    {
                        if (found.Contains(target) || target == SshdConfig) continue;
                        found.Add(target);
                        Walk(target, depth + 1);
                    }
                }
            }
        }
        Walk(SshdConfig, 0);
        return [.. found];
    }

    /// <summary>A glob in the last path component (the form sshd_config uses), expanded inside the root in lexical order.</summary>
    private static IEnumerable<string> Expand(HostRoot root, string pattern)
    {
        if (!SafePath.IsAbsolute(pattern)) return [];
        var slash = pattern.LastIndexOf('/');
        var (dir, name) = (slash == 0 ? "/" : pattern[..slash], pattern[(slash + 1)..]);
        if (dir.IndexOfAny(['*', '?', '[']) >= 0 || root.List(dir) is not { } entries) return [];
        var match = new System.Text.RegularExpressions.Regex("^" + System.Text.RegularExpressions.Regex.Escape(name)
            .Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$");
        return entries.Where(e => e.Kind != EntryKind.Directory && match.IsMatch(e.Name)).Select(e => e.Name)
            .Order(StringComparer.Ordinal).Select(n => (dir == "/" ? "" : dir) + "/" + n);
    }

    private static string Text(FileState f) => f.Exists ? Encoding.UTF8.GetString(f.Content) : "";

    internal static ImmutableArray<UserAccount> ParseUsers(string passwd) =>
        [.. passwd.Split('\n').Select(l => l.Split(':')).Where(p => p.Length >= 7
                && uint.TryParse(p[2], NumberStyles.None, CultureInfo.InvariantCulture, out _)
                && uint.TryParse(p[3], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            // A home of "/home/" or "/home//alice/" is /home or /home/alice to the kernel: compared as the kernel sees it.
            .Select(p => new UserAccount(p[0], uint.Parse(p[2], CultureInfo.InvariantCulture), uint.Parse(p[3], CultureInfo.InvariantCulture), SafePath.Normalize(p[5]), p[6].Trim()))];

    internal static ImmutableArray<GroupEntry> ParseGroups(string group) =>
        [.. group.Split('\n').Select(l => l.Split(':')).Where(p => p.Length >= 4
                && uint.TryParse(p[2], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(p => new GroupEntry(p[0], uint.Parse(p[2], CultureInfo.InvariantCulture),
                [.. p[3].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]))];

    /// <summary>Every package dpkg knows, with the status word of its Status line (installed, half-installed, config-files, …).</summary>
    public static ImmutableDictionary<string, string> ReadPackageStatus(HostRoot root)
    {
        if (Text(ReadFile(root, DpkgStatus, MaxStatusSize)) is not { Length: > 0 } status) return ImmutableDictionary<string, string>.Empty;
        var found = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        string? package = null;
        foreach (var line in status.Split('\n'))
        {
            if (line.StartsWith("Package: ", StringComparison.Ordinal)) package = line[9..].Trim();
            else if (line.StartsWith("Status: ", StringComparison.Ordinal) && package is not null) found[package] = line.Split(' ')[^1];
        }
        return found.ToImmutable();
    }

    /// <summary>Packages dpkg records as installed ("install ok installed"), with version and architecture.</summary>
    public static ImmutableDictionary<string, PackageInfo> ReadInstalledPackages(HostRoot root)
    {
        if (Text(ReadFile(root, DpkgStatus, MaxStatusSize)) is not { Length: > 0 } status) return ImmutableDictionary<string, PackageInfo>.Empty;
        var installed = ImmutableDictionary.CreateBuilder<string, PackageInfo>(StringComparer.Ordinal);
        string? package = null, version = null, arch = null;
        var depends = new List<string>();
        var ok = false;
        void Flush()
        {
            if (ok && package is not null) installed[package] = new PackageInfo(version ?? "", arch ?? "") { Depends = [.. depends.Distinct(StringComparer.Ordinal)] };
            package = version = arch = null;
            depends.Clear();
            ok = false;
        }
        foreach (var line in status.Split('\n'))
        {
            if (line.Length == 0) Flush();
            else if (line.StartsWith("Package: ", StringComparison.Ordinal)) package = line[9..].Trim();
            else if (line.StartsWith("Version: ", StringComparison.Ordinal)) version = line[9..].Trim();
            else if (line.StartsWith("Architecture: ", StringComparison.Ordinal)) arch = line[14..].Trim();
            else if (line.StartsWith("Depends: ", StringComparison.Ordinal) || line.StartsWith("Pre-Depends: ", StringComparison.Ordinal))
                depends.AddRange(line[(line.IndexOf(':') + 1)..].Split([',', '|']).Select(d => d.Trim().Split([' ', '(', ':'], 2)[0]).Where(d => d.Length > 0));
            else if (line.StartsWith("Status: ", StringComparison.Ordinal))
                ok = line.EndsWith(" installed", StringComparison.Ordinal) && !line.Contains("not-installed", StringComparison.Ordinal);
        }
        Flush();
        return installed.ToImmutable();
    }
}
