using System.Security.Cryptography;
using CliWrap;
using CliWrap.Buffered;

namespace Harden.Integration.Tests;

/// <summary>Bytes, mode and owner of every entry under a folder: two equal snapshots mean nothing changed.</summary>
public sealed record Tree(IReadOnlyDictionary<string, string> Entries)
{
    public static async Task<Tree> CaptureAsync(string directory)
    {
        // One find call reports type, mode, owner and link target for every entry; .NET hashes the files.
        var listing = await CliWrap.Cli.Wrap("find").WithArguments([directory, "-mindepth", "1", "-printf", @"%P\t%y\t%m\t%U:%G\t%l\n"])
            .ExecuteBufferedAsync();
        var entries = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in listing.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split('\t');
            var digest = f[1] == "f" ? Convert.ToHexStringLower(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(directory, f[0])))) : f[4];
            entries["/" + f[0]] = $"{f[1]} {f[2]} {f[3]} {digest}";
        }
        return new Tree(entries);
    }

    /// <summary>Lines that differ between two snapshots, for a readable assertion message.</summary>
    public IReadOnlyList<string> Differences(Tree other) =>
        [.. Entries.Keys.Union(other.Entries.Keys).Order(StringComparer.Ordinal)
            .Where(k => Entries.GetValueOrDefault(k) != other.Entries.GetValueOrDefault(k))
            .Select(k => $"{k}: {Entries.GetValueOrDefault(k) ?? "(absent)"} -> {other.Entries.GetValueOrDefault(k) ?? "(absent)"}")];
}
