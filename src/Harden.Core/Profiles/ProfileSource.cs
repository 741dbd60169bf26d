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

/// <summary>Profiles in one folder; names never leave it.</summary>
public sealed class DirectoryProfileSource(string directory) : IProfileSource
{
    public string Directory { get; } = Path.GetFullPath(directory);

    public (string Text, string Origin)? TryRead(string name)
    {
        foreach (var ext in (string[])[".yaml", ".yml"])
        {
            var path = Path.Combine(Directory, name + ext);
            if (File.Exists(path)) return (File.ReadAllText(path), path);
        }
        return null;
    }

    public IReadOnlyList<string> Names() =>
        [.. System.IO.Directory.EnumerateFiles(Directory, "*.y*ml").Select(p => Path.GetFileNameWithoutExtension(p)!).Order(StringComparer.Ordinal)];
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
