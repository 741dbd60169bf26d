using System.Collections.Immutable;
using System.Text;
using Harden.Execution;
using Harden.Host;
using Harden.Planning;

namespace Harden.Resources;

/// <summary>
/// Shared by the kinds that edit part of a file someone else owns (a key, a block, a conflicting
/// sshd line): read the text, refuse links, write the edited text back with the file's own mode and owner.
/// </summary>
internal static class TextFile
{
    public static string Read(FileState file, string path)
    {
        file.EnsureManageable(path);
        return file.Exists ? Encoding.UTF8.GetString(file.Content) : "";
    }

    public static void Write(IHostEffects fx, string path, FileState before, string text)
    {
        var (mode, uid, gid) = before.Exists
            ? (before.Mode, before.Uid, before.Gid)
            : (UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, 0u, 0u);
        fx.WriteFile(path, Encoding.UTF8.GetBytes(text), mode, uid, gid);
    }

    public static string Diff(string path, FileState before, string beforeText, string afterText) =>
        UnifiedDiff.Compute(before.Exists ? "a" + path : "/dev/null", "b" + path, beforeText, afterText);

    public static string[] Lines(string text) => text.Split('\n');

    /// <summary>The file and the name within it of a <c>PATH#NAME</c> address (keys, blocks).</summary>
    public static (string Path, string Name) PathAndName(Address address)
    {
        var hash = address.Key.LastIndexOf('#');
        return (address.Key[..hash], address.Key[(hash + 1)..]);
    }

    public static string AppendLine(string text, string line) =>
        text.Length == 0 || text.EndsWith('\n') ? text + line + "\n" : text + "\n" + line + "\n";

    public static RestoreOutcome Kept(string path, string why, string diff = "") => new(false, $"{path}: {why}", diff);

    public static ImmutableSortedDictionary<string, string>? Value(string key, string? value) =>
        value is null ? null : State.Of((key, value));
}
