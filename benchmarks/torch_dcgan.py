"""The DCGAN train step in PyTorch: the comparison rows of benchmarks/train_step.py (CPU) and
benchmarks/accelerator.py (CUDA), in the forms a PyTorch user would reach for on each.

The networks, losses, optimiser and update orders are the project's DCGAN (configs/dcgan.py):
G projects z to 4x4 maps and doubles them with 4x4 stride-2 transposed convolutions (BatchNorm,
ReLU; tanh out), D halves them with 4x4 stride-2 convolutions (BatchNorm after the first,
LeakyReLU 0.2) down to a 4x4 valid convolution; N(0, 0.02) weights; Adam 2e-4, betas (0.5, 0.999);
softplus losses, G's non-saturating. The data set sits on the device and each step draws its
batch there, as the project's device pipeline does.
"""

import dataclasses
import time

import numpy as np
import torch
from torch import nn


@dataclasses.dataclass(frozen=True)
class Variant:
    """One way of running the step. float32 convolutions and matmuls may use TF32 on NVIDIA GPUs
    (PyTorch's default for cuDNN convolutions; set for matmuls too, as XLA does by default)."""

    name: str
    channels_last: bool = False  # NHWC memory layout for the images, activations and weights
    bf16: bool = False  # torch.autocast to bfloat16 around G and D; losses and the state in float32
    compile: str = ""  # torch.compile mode for G and D ('' = eager)
    cuda_graph: bool = False  # the whole step (both updates) captured once and replayed


EAGER = Variant("eager")
VARIANTS = (  # the CUDA rows of benchmarks/accelerator.py, in the order they are built
    EAGER,
    Variant("channels-last", channels_last=True),
    Variant("AMP bf16, channels-last", channels_last=True, bf16=True),
    Variant("CUDA graph", cuda_graph=True),
    Variant("CUDA graph, AMP bf16, channels-last", channels_last=True, bf16=True, cuda_graph=True),
    Variant("torch.compile", compile="default"),
    Variant("torch.compile, AMP bf16, channels-last", channels_last=True, bf16=True, compile="default"),
    Variant(
        "torch.compile max-autotune, AMP bf16, channels-last",
        channels_last=True,
        bf16=True,
        compile="max-autotune",
    ),
)


class TorchDCGANStep:
    """The step of `variant` at size x size x channels, batch `batch`, on `device`."""

    def __init__(
        self,
        size: int,
        channels: int,
        batch: int,
        width: int = 64,
        z_dim: int = 100,
        reuse_fake: bool = False,
        device: str = "cpu",
        variant: Variant = EAGER,
    ):
        torch.manual_seed(0)
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
        self.batch, self.z_dim, self.reuse_fake = batch, z_dim, reuse_fake
        self.device, self.variant = torch.device(device), variant
        self.memory_format = torch.channels_last if variant.channels_last else torch.contiguous_format
        self.G = Generator(size, channels, width, z_dim).to(self.device, memory_format=self.memory_format)
        self.D = Discriminator(size, channels, width).to(self.device, memory_format=self.memory_format)
        capturable = {"capturable": True} if variant.cuda_graph else {}
        self.opt_g = torch.optim.Adam(self.G.parameters(), 2e-4, betas=(0.5, 0.999), **capturable)
        self.opt_d = torch.optim.Adam(self.D.parameters(), 2e-4, betas=(0.5, 0.999), **capturable)
        self.g, self.d = self.G, self.D
        if variant.compile:
            # G and D are traced once per layout, dtype and requires-grad state: more than the
            # default limit of 8 in one process of many rows (past it, dynamo runs them eagerly)
            torch._dynamo.config.recompile_limit = 64
            self.g = torch.compile(self.G, mode=variant.compile)
            self.d = torch.compile(self.D, mode=variant.compile)
        self.data = (torch.rand(1024, channels, size, size, device=self.device) * 2 - 1).contiguous(
            memory_format=self.memory_format
        )
        start = time.perf_counter()
        self.graph = self._capture() if variant.cuda_graph else None
        self.run(3)  # warm-up: compilation, cuDNN's algorithm search, the allocator's pools
        self.compile_seconds = time.perf_counter() - start

    def _forward(self, module, x):
        # autocast's cache of cast weights must be off under graph capture (PyTorch's CUDA graphs notes)
        cache = not self.variant.cuda_graph
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.variant.bf16, cache_enabled=cache):
            return module(x).float()

    def step(self):
        """Goodfellow's Algorithm 1 (fresh noise for G's update), or with `reuse_fake` PyTorch's
        DCGAN example: G's update on the batch D just judged (its graph kept through D's step).
        D's parameter gradients are switched off during G's update, PyTorch's best case."""
        F = torch.nn.functional
        real = self.data[torch.randint(0, len(self.data), (self.batch,), device=self.device)]
        with torch.set_grad_enabled(self.reuse_fake):
            fake = self._forward(self.g, torch.randn(self.batch, self.z_dim, device=self.device))
        d_loss = (
            F.softplus(-self._forward(self.d, real)).mean()
            + F.softplus(self._forward(self.d, fake.detach())).mean()
        )
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        self.D.requires_grad_(False)
        if not self.reuse_fake:
            fake = self._forward(self.g, torch.randn(self.batch, self.z_dim, device=self.device))
        g_loss = F.softplus(-self._forward(self.d, fake)).mean()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)

    def _capture(self):
        """The whole step as one CUDA graph (PyTorch's whole-network capture: warm-up on a side
        stream, then capture; Adam with capturable=True keeps its step count on the device)."""
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self.step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.step()
        return graph

    def run(self, steps: int) -> float:
        """Train steps per second over `steps` steps, the device's queue drained at the end."""
        start = time.perf_counter()
        for _ in range(steps):
            self.graph.replay() if self.graph is not None else self.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return steps / (time.perf_counter() - start)


class Generator(nn.Module):
    """z -> 4x4 maps -> doubled by 4x4 stride-2 transposed convolutions (BatchNorm, ReLU) -> tanh."""

    def __init__(self, size: int, channels: int, width: int, z_dim: int):
        super().__init__()
        n = int(np.log2(size // 4))
        self.top = width * 2 ** (n - 1)
        self.project = nn.Linear(z_dim, 4 * 4 * self.top, bias=False)
        layers, ch = [nn.BatchNorm2d(self.top), nn.ReLU()], self.top
        for _ in range(n - 1):
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch // 2),
                nn.ReLU(),
            ]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        _init(self)

    def forward(self, z):
        return self.body(self.project(z).view(-1, self.top, 4, 4))


class Discriminator(nn.Module):
    """Images -> halved by 4x4 stride-2 convolutions (BatchNorm after the first, LeakyReLU 0.2)
    -> a 4x4 valid convolution's logit."""

    def __init__(self, size: int, channels: int, width: int):
        super().__init__()
        layers, ch = [nn.Conv2d(channels, width, 4, 2, 1), nn.LeakyReLU(0.2)], width
        for _ in range(int(np.log2(size // 4)) - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2)]
            ch *= 2
        self.body = nn.Sequential(*layers, nn.Conv2d(ch, 1, 4, 1, 0), nn.Flatten())
        _init(self)

    def forward(self, x):
        return self.body(x)


def _init(network: nn.Module) -> None:
    """DCGAN's N(0, 0.02) weights; PyTorch's default biases and BatchNorm (scale 1, offset 0)."""
    for module in network.modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(module.weight, 0.0, 0.02)
