using System.Text;
using System.Text.RegularExpressions;
using Harden.Host;
using Harden.Resources;

namespace Harden.Planning;

/// <summary>
/// AppArmor confines a service only in enforce mode; a profile in complain mode logs what it would
/// refuse and refuses nothing. Plan names each profile that apparmor.service loads in complain mode
/// (a complain flag in the profile, or a link in force-complain/), with the command that enforces it.
/// harden reports rather than edits: a profile is often in complain mode because it still refuses
/// something the service needs, and enforcing it blindly can stop that service. Pure: reads the
/// snapshot only.
/// </summary>
public static partial class AppArmorProfiles
{
    public const string Verifier = "apparmor";
    public const string ProfileFolder = "/etc/apparmor.d";
    public const string ForceComplainFolder = "/etc/apparmor.d/force-complain";
    public const string DisableFolder = "/etc/apparmor.d/disable";

    public static IEnumerable<HostQuery> Needs =>
        [new(HostQueryKind.FolderFiles, ProfileFolder), new(HostQueryKind.FolderNames, ForceComplainFolder), new(HostQueryKind.FolderNames, DisableFolder)];

    public static IEnumerable<string> Findings(HostSnapshot host)
    {
        var forced = host.FolderNames(ForceComplainFolder).Where(LoadedName().IsMatch).ToHashSet(StringComparer.Ordinal);
        // A profile linked in disable/ is never loaded: it confines nothing either way (and is not in complain mode).
        var disabled = host.FolderNames(DisableFolder).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, file) in host.FolderFiles(ProfileFolder).Where(kv => LoadedName().IsMatch(kv.Key) && !disabled.Contains(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var complain = ComplainProfiles(file).ToList();
            if (complain.Count > 0)
                yield return $"{ProfileFolder}/{name} is in complain mode (it logs and refuses nothing) for {string.Join(", ", complain.Select(Profiles.VariableDefinition.Printable))}; enforce it with 'aa-enforce {ProfileFolder}/{name}' (apparmor-utils) once its log shows no denials the service needs";
            else if (forced.Contains(name))
                yield return $"{ProfileFolder}/{name} is forced into complain mode by {ForceComplainFolder}/{name}; remove that link and run 'apparmor_parser -r {ProfileFolder}/{name}' once its log shows no denials the service needs";
        }
    }

    /// <summary>The names of the profiles in one file whose flags include complain.</summary>
    public static IEnumerable<string> ComplainProfiles(FileState file)
    {
        if (!file.Exists) yield break;
        foreach (var raw in Encoding.UTF8.GetString(file.Content).Split('\n'))
        {
            var line = raw.Trim();
            // Rules end with a comma; a header never does.
            if (line.StartsWith('#') || line.EndsWith(',')) continue;
            var match = Header().Match(line);
            if (match.Success && match.Groups["flags"].Value.Split([',', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries).Contains("complain", StringComparer.Ordinal))
                yield return match.Groups["name"].Value;
        }
    }

    /// <summary>The files apparmor.service loads: plain names, not package backups or editor leftovers.</summary>
    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.+-]*(?<!\.dpkg-new|\.dpkg-old|\.dpkg-dist|\.dpkg-bak|\.dpkg-remove|\.pacsave|\.pacnew|\.rpmnew|\.rpmsave|~)$")]
    private static partial Regex LoadedName();

    /// <summary>A profile header: <c>[profile] NAME [ATTACHMENT] [flags=](…) [{]</c> (apparmor.d(5): "flags=" may be left out, "{" may be on the next line).</summary>
    [GeneratedRegex(@"^(?:profile\s+)?(?<name>[^\s(]+)(?:\s+[^\s(]+)?\s+(?:flags\s*=\s*)?\((?<flags>[^)]*)\)\s*(\{.*)?$")]
    private static partial Regex Header();
}
