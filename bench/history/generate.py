#!/usr/bin/env python3
"""Writes a `git fast-import` stream for a deterministic blog history.

usage: generate.py [--posts N] [--commits N] [--seed S] | git fast-import --quiet

The first N commits each add one post; every later commit edits one post (sometimes two,
or a non-post file), and a few rename a post with a small edit (as `git mv` plus an edit
would) or delete one and add another. The same arguments always give the same repository,
commit ids included (fixed author, dates and seed).
"""

import argparse
import random
import sys

WORDS = (
    "attention softmax gradient layer norm residual token embedding head query key value "
    "scaling variance mean batch learning rate warmup decay loss logit entropy sample "
    "routing expert cache prefix rotary position sequence context window weight bias"
).split()

SECTIONS = ["Question", "Background", "Exploration", "Takeaways", "Open Questions"]
BASE_TIME = 1_700_000_000


def sentence(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))).capitalize() + "."


class Post:
    def __init__(self, rng, slug, number):
        self.slug = slug
        self.title = f"Notes on {rng.choice(WORDS)} {rng.choice(WORDS)} #{number}"
        self.status = "draft" if number % 10 == 0 else "published"
        self.tags = sorted({rng.choice(WORDS) for _ in range(3)})
        self.sections = {
            name: [sentence(rng) for _ in range(rng.randint(2, 5))] for name in SECTIONS[:4]
        }
        self.questions = [sentence(rng) for _ in range(rng.randint(1, 3))]
        self.date = f"2025-{1 + number % 12:02d}-{1 + number % 28:02d}"

    def text(self):
        tags = ", ".join(self.tags)
        out = [
            "---",
            f'title: "{self.title}"',
            f"date: {self.date}",
            f"tags: [{tags}]",
            f"status: {self.status}",
            "---",
            "",
        ]
        for name in SECTIONS[:4]:
            out += [f"## {name}", ""] + self.sections[name] + [""]
        out += ["## Open Questions", ""] + [f"- {q}" for q in self.questions]
        return "\n".join(out) + "\n"

    def edit(self, rng):
        roll = rng.random()
        if roll < 0.15 and len(self.questions) > 1:
            self.questions.pop(rng.randrange(len(self.questions)))
        elif roll < 0.3:
            self.questions.append(sentence(rng))
        elif roll < 0.65:
            lines = self.sections[rng.choice(SECTIONS[:4])]
            lines[rng.randrange(len(lines))] = sentence(rng)
        else:
            lines = self.sections[rng.choice(SECTIONS[:4])]
            lines.insert(rng.randrange(len(lines) + 1), sentence(rng))
            if len(lines) > 12:
                lines.pop(0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout.buffer
    posts = {}
    order = []
    created = 0

    def new_post():
        nonlocal created
        created += 1
        slug = f"post-{created:05d}-{rng.choice(WORDS)}"
        post = Post(rng, slug, created)
        posts[slug] = post
        order.append(slug)
        return post

    def data(text):
        raw = text.encode()
        return b"data %d\n" % len(raw) + raw + b"\n"

    for n in range(args.commits):
        when = BASE_TIME + n * 60
        ops = []
        if n < args.posts:
            post = new_post()
            message = f"Add {post.slug}"
            ops.append(b"M 100644 inline posts/%s.md\n" % post.slug.encode() + data(post.text()))
        else:
            roll = rng.random()
            if roll < 0.002:
                old = rng.choice(order)
                post = posts.pop(old)
                order.remove(old)
                post.slug = old + "-revised"
                post.edit(rng)
                posts[post.slug] = post
                order.append(post.slug)
                message = f"Rename {old} to {post.slug}"
                ops.append(b"D posts/%s.md\n" % old.encode())
                ops.append(b"M 100644 inline posts/%s.md\n" % post.slug.encode() + data(post.text()))
            elif roll < 0.003:
                old = rng.choice(order)
                posts.pop(old)
                order.remove(old)
                post = new_post()
                message = f"Retire {old}, start {post.slug}"
                ops.append(b"D posts/%s.md\n" % old.encode())
                ops.append(b"M 100644 inline posts/%s.md\n" % post.slug.encode() + data(post.text()))
            elif roll < 0.03:
                message = "Update the site notes"
                ops.append(b"M 100644 inline NOTES.md\n" + data(f"Notes revision {n}.\n"))
            else:
                touched = rng.sample(order, 2 if roll > 0.95 else 1)
                for slug in touched:
                    posts[slug].edit(rng)
                    ops.append(b"M 100644 inline posts/%s.md\n" % slug.encode() + data(posts[slug].text()))
                message = "Revise " + " and ".join(touched)
        out.write(b"commit refs/heads/main\n")
        out.write(b"mark :%d\n" % (n + 1))
        out.write(b"author Bench Author <bench@example.org> %d +0000\n" % when)
        out.write(b"committer Bench Author <bench@example.org> %d +0000\n" % when)
        out.write(data(message))
        if n > 0:
            out.write(b"from :%d\n" % n)
        out.writelines(ops)
        out.write(b"\n")


if __name__ == "__main__":
    main()
