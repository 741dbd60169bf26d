using System.Reflection;

namespace Harden.Rendering;

/// <summary>Where template texts come from. Names are relative paths inside <c>templates/</c>.</summary>
public interface ITemplateSource
{
    string? TryRead(string name);
}

public sealed class EmbeddedTemplateSource : ITemplateSource
{
    public static readonly EmbeddedTemplateSource Instance = new();
    private static readonly Assembly Assembly = typeof(EmbeddedTemplateSource).Assembly;

    public string? TryRead(string name)
    {
        using var stream = Assembly.GetManifestResourceStream("templates/" + name);
        if (stream is null) return null;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

/// <summary>
/// Templates in a folder (<c>--templates DIR</c>), over the built-in ones, read through a handle on
/// the folder like every path under a root: a name with ".." or a link anywhere below the folder (a
/// linked sub-folder would pull in any file on the host) is refused, and only regular files of a sane
/// size are read.
/// </summary>
public sealed class DirectoryTemplateSource(string directory, ITemplateSource fallback) : ITemplateSource
{
    private const ulong MaxTemplateSize = 1 << 20;
    private readonly Host.ContainedDirectory _folder = Host.ContainedDirectory.Open(Path.GetFullPath(directory).TrimEnd('/'));

    public string? TryRead(string name)
    {
        if (!Host.SafePath.IsRelative(name))
            throw new HardenException($"template '{name}' escapes the templates folder {_folder.Path}");
        Host.Entry entry;
        byte[]? content;
        try
        {
            (entry, content) = _folder.Read(name, MaxTemplateSize);
        }
        catch (Host.PathBlockedException e)
        {
            throw new HardenException(e.Blocker.Contains(" -> ", StringComparison.Ordinal)
                ? $"template '{name}': {e.Blocker} is a symlink; templates are read only from real files inside {_folder.Path}"
                : $"template '{name}': {e.Message}");
        }
        return entry.Kind switch
        {
            Host.EntryKind.Missing => fallback.TryRead(name),
            Host.EntryKind.Symlink => throw new HardenException($"template '{name}': {_folder.Show(name)} is a symlink; templates are read only from real files inside {_folder.Path}"),
            Host.EntryKind.Directory => throw new HardenException($"template '{name}' is a folder in {_folder.Path}"),
            _ when content is null => throw new HardenException($"template '{name}' in {_folder.Path} is not a regular file of at most 1 MiB"),
            _ => System.Text.Encoding.UTF8.GetString(content),
        };
    }
}
