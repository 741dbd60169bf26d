using System.Reflection;

namespace Harden.Profiles;

/// <summary>Where profile texts come from: the shipped set inside the binary, or a folder on disk.</summary>
public interface IProfileSource
{
    /// <summary>Returns the YAML text and a display origin, or null when this source has no such profile.</summary>
    (string Text, string Origin)? TryRead(string name);
    IReadOnlyList<string> Names();
}

public sealed class EmbeddedProfileSource : IProfileSource
{
    public static readonly EmbeddedProfileSource Instance = new();
    private static readonly Assembly Assembly = typeof(EmbeddedProfileSource).Assembly;

    public (string Text, string Origin)? TryRead(string name)
    {
        using var stream = Assembly.GetManifestResourceStream($"profiles/{name}.yaml");
        if (stream is null) return null;
        using var reader = new StreamReader(stream);
        return (reader.ReadToEnd(), $"profiles/{name}.yaml (built in)");
    }

    public IReadOnlyList<string> Names() =>
        [.. Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith("profiles/", StringComparison.Ordinal) && n.EndsWith(".yaml", StringComparison.Ordinal))
            .Select(n => n["profiles/".Length..^".yaml".Length])
            .Order(StringComparer.Ordinal)];
}

/// <summary>Profiles in one folder, read through a handle on it: names never leave it, links are never followed.</summary>
public sealed class DirectoryProfileSource(string directory) : IProfileSource
{
    private const ulong MaxProfileSize = 1 << 20;
    private readonly Host.ContainedDirectory _folder = Host.ContainedDirectory.Open(Path.GetFullPath(directory));

    public string Directory => _folder.Path;

    public (string Text, string Origin)? TryRead(string name)
    {
        foreach (var ext in (string[])[".yaml", ".yml"])
        {
            var file = name + ext;
            if (!Host.SafePath.IsRelative(file) || file.Contains('/', StringComparison.Ordinal)) return null;
            var (entry, content) = _folder.Read(file, MaxProfileSize);
            if (entry.Kind == Host.EntryKind.Missing) continue;
            if (content is null)
                throw new HardenException($"profile '{_folder.Show(file)}' is {(entry.Kind == Host.EntryKind.File ? "larger than 1 MiB" : entry.Describe())}; profiles are read only from regular files");
            return (System.Text.Encoding.UTF8.GetString(content), _folder.Show(file));
        }
        return null;
    }

    public IReadOnlyList<string> Names() =>
        [.. (_folder.List("") ?? []).Where(e => e.Kind == Host.EntryKind.File && (e.Name.EndsWith(".yaml", StringComparison.Ordinal) || e.Name.EndsWith(".yml", StringComparison.Ordinal)))
            .Select(e => Path.GetFileNameWithoutExtension(e.Name)).Order(StringComparer.Ordinal)];
}

/// <summary>Looks in each source in turn: a folder's own profiles first, then the shipped ones.</summary>
public sealed class LayeredProfileSource(params IProfileSource[] layers) : IProfileSource
{
    public (string Text, string Origin)? TryRead(string name)
    {
        foreach (var layer in layers)
        {
            if (layer.TryRead(name) is { } found) return found;
        }
        return null;
    }

    public IReadOnlyList<string> Names() => [.. layers.SelectMany(l => l.Names()).Distinct().Order(StringComparer.Ordinal)];
}
