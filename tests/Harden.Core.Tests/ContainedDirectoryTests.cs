using System.Diagnostics;
using Harden.Host;

namespace Harden.Core.Tests;

/// <summary>
/// The one rule for every path harden opens: reached from a directory handle, never through a link,
/// only regular files read, explicit modes. Run on a temporary folder of this machine (no /etc).
/// </summary>
public sealed class ContainedDirectoryTests
{
    private static readonly UnixFileMode Rw = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Test]
    public void A_link_anywhere_on_the_way_is_refused_for_reads_writes_and_deletes()
    {
        using var root = new TempDirectory();
        using var outside = new TempDirectory();
        var secret = outside.Write("secret", "outside\n");
        Directory.CreateDirectory(Path.Combine(root.Path, "etc"));
        Directory.CreateSymbolicLink(Path.Combine(root.Path, "etc/linked"), outside.Path);
        File.CreateSymbolicLink(Path.Combine(root.Path, "etc/file"), secret);
        var dir = ContainedDirectory.Open(root.Path);

        Assert.Multiple(() =>
        {
            Assert.That(() => dir.Read("etc/linked/secret", 1 << 20), Throws.TypeOf<PathBlockedException>().With.Message.Contains("is a symlink"));
            Assert.That(dir.Read("etc/file", 1 << 20), Is.EqualTo((dir.Stat("etc/file"), (byte[]?)null)), "a final link is described, not read");
            Assert.That(dir.Stat("etc/file").Kind, Is.EqualTo(EntryKind.Symlink));
            Assert.That(() => dir.Write("etc/linked/secret", "pwned"u8, Rw, 0, 0), Throws.TypeOf<PathBlockedException>());
            Assert.That(() => dir.Write("etc/linked/new", "pwned"u8, Rw, 0, 0), Throws.TypeOf<PathBlockedException>());
            Assert.That(() => dir.Delete("etc/linked/secret"), Throws.TypeOf<PathBlockedException>());
            Assert.That(() => dir.Delete("etc/file"), Throws.TypeOf<PathBlockedException>());
            Assert.That(() => dir.EnsureDirectory("etc/linked/sub", Rw, 0, 0), Throws.TypeOf<PathBlockedException>());
            Assert.That(dir.List("etc/linked"), Is.Null, "a linked folder is not listed");
            Assert.That(() => dir.Read("../secret", 1 << 20), Throws.TypeOf<HardenException>());
        });
        Assert.That(File.ReadAllText(secret), Is.EqualTo("outside\n"));
        Assert.That(Directory.GetFileSystemEntries(outside.Path), Has.Length.EqualTo(1), "nothing was created outside");
    }

    [Test]
    public void Special_files_are_described_and_never_opened()
    {
        using var root = new TempDirectory();
        var fifo = Path.Combine(root.Path, "fifo");
        Assert.That(Process.Start("mkfifo", [fifo])!.WaitForExit(5000), Is.True);
        var dir = ContainedDirectory.Open(root.Path);
        var watch = Stopwatch.StartNew();
        var (entry, content) = dir.Read("fifo", 1 << 20);
        Assert.Multiple(() =>
        {
            Assert.That(entry.Kind, Is.EqualTo(EntryKind.Fifo));
            Assert.That(content, Is.Null);
            Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)), "a FIFO never blocks the read");
            Assert.That(ContainedDirectory.Open("/dev").Read("null", 1 << 20).Entry.Kind, Is.EqualTo(EntryKind.Device));
            Assert.That(() => ContainedDirectory.ReadInput(fifo, 1 << 20, "plan file"), Throws.TypeOf<HardenException>().With.Message.Contains("a FIFO"));
        });
    }

    [Test]
    public void Writes_set_exact_modes_whatever_the_umask_and_leave_no_temporary_file()
    {
        using var root = new TempDirectory();
        var dir = ContainedDirectory.Open(root.Path);
        var created = dir.CreateParents("a/b/c/file");
        dir.Write("a/b/c/file", "x\n"u8, UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.SetGroup, 0, 0);
        var made = dir.EnsureDirectory("a/b/phi", (UnixFileMode)Convert.ToInt32("2770", 8), 0, 0);
        Assert.Multiple(() =>
        {
            Assert.That(created, Is.EqualTo(new[] { "a", "a/b", "a/b/c" }));
            Assert.That(made, Is.EqualTo(new[] { "a/b/phi" }));
            Assert.That(File.GetUnixFileMode(Path.Combine(root.Path, "a/b")), Is.EqualTo(ContainedDirectory.FolderMode));
            Assert.That(File.GetUnixFileMode(Path.Combine(root.Path, "a/b/c/file")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.SetGroup));
            Assert.That(File.GetUnixFileMode(Path.Combine(root.Path, "a/b/phi")), Is.EqualTo((UnixFileMode)Convert.ToInt32("2770", 8)));
            Assert.That(Directory.GetFiles(Path.Combine(root.Path, "a/b/c")), Is.EqualTo(new[] { Path.Combine(root.Path, "a/b/c/file") }));
            Assert.That(dir.RemoveEmptyDirectory("a/b/c"), Is.False, "not empty");
            Assert.That(dir.RemoveEmptyDirectory("a/b/phi"), Is.True);
        });
    }

    [Test]
    public void RemoveTree_removes_links_as_links()
    {
        using var root = new TempDirectory();
        using var outside = new TempDirectory();
        var kept = outside.Write("keep/me", "x");
        root.Write("stage/sub/file", "y");
        Directory.CreateSymbolicLink(Path.Combine(root.Path, "stage/sub/link"), Path.GetDirectoryName(kept)!);
        ContainedDirectory.Open(root.Path).RemoveTree("stage");
        Assert.Multiple(() =>
        {
            Assert.That(Directory.Exists(Path.Combine(root.Path, "stage")), Is.False);
            Assert.That(File.Exists(kept), Is.True);
        });
    }

    /// <summary>
    /// The race a path check cannot win: a folder is swapped for a link to the outside while harden
    /// writes and reads below it. Resolving through the parent's handle, one component at a time with
    /// O_NOFOLLOW, means every attempt either lands inside or is refused; none reaches the outside.
    /// </summary>
    [Test]
    public void A_folder_swapped_for_a_link_mid_run_never_leads_outside()
    {
        using var root = new TempDirectory();
        using var outside = new TempDirectory();
        outside.Write("secret", "outside\n");
        root.Write("etc/secret", "inside\n");
        Directory.CreateSymbolicLink(Path.Combine(root.Path, "etc.link"), outside.Path);
        var dir = ContainedDirectory.Open(root.Path);

        using var stop = new CancellationTokenSource();
        using var handle = Native.TryOpenAt(null, root.Path, Native.ORdOnly | Native.ODirectory, 0, out _)!;
        using var swapping = new ManualResetEventSlim();
        // Its own thread, and awaited before the loop: on a loaded machine a pool thread may start only after the loop ended.
        var swapper = Task.Factory.StartNew(() =>
        {
            var swaps = 0;
            while (!stop.IsCancellationRequested)
            {
                if (swaps == 1) swapping.Set();
                // rename(2) swaps atomically: "etc" is a real folder one moment, a link the next.
                Native.RenameAt(handle, "etc", "etc.real");
                Native.RenameAt(handle, "etc.link", "etc");
                Native.RenameAt(handle, "etc", "etc.link");
                Native.RenameAt(handle, "etc.real", "etc");
                swaps++;
            }
            return swaps;
        }, TaskCreationOptions.LongRunning);
        swapping.Wait(TimeSpan.FromSeconds(30));
        var (written, read, refused) = (0, 0, 0);
        // At least 3000 tries, and on until a write has landed inside (the race can refuse many in a row under load).
        for (var i = 0; i < 3000 || written == 0 && i < 100_000; i++)
        {
            try
            {
                dir.Write("etc/secret", "harden\n"u8, Rw, 0, 0, durable: false);
                written++;
                if (dir.Read("etc/secret", 1 << 20).Content is { } bytes)
                {
                    Assert.That(System.Text.Encoding.UTF8.GetString(bytes), Is.Not.EqualTo("outside\n"), "read through the link");
                    read++;
                }
            }
            catch (Exception e) when (e is PathBlockedException or IOException)
            {
                refused++;
            }
        }
        stop.Cancel();
        var swaps = swapper.Result;
        TestContext.Out.WriteLine($"{swaps} swaps; {written} writes, {read} reads landed inside; {refused} refused");
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllText(Path.Combine(outside.Path, "secret")), Is.EqualTo("outside\n"));
            Assert.That(Directory.GetFileSystemEntries(outside.Path), Has.Length.EqualTo(1), "no file, temporary or not, was made outside");
            Assert.That(swaps, Is.GreaterThan(0));
            Assert.That(written, Is.GreaterThan(0));
        });
    }
}
