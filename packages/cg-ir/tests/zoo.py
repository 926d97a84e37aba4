"""A zoo of small hand-written CNNs for the torch.fx converter tests (no torchvision).

Each entry of ``ZOO`` maps a name to ``(factory, input_shape)``. The nets cover residual and
bottleneck blocks, inverted residuals, squeeze-and-excitation, channels-last LayerNorm, U-Net
upsampling with concat skips, depthwise-separable and grouped/dilated convs, Inception-like
branches, a VGG head on a non-1x1 map, the functional (``F.*``/``torch.*``) and Tensor-method
spellings of ops, channel slicing and ``cg_ir.nn.Zero``. Only conv and linear layers do
matrix products, so ``FlopCounterMode`` counts exactly the graph's conv/linear FLOPs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from cg_ir.nn import Zero


def conv_bn(c_in: int, c_out: int, k: int = 3, s: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)
    )


# -- ResNet ----------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = conv_bn(c_in, c_out, 3, stride)
        self.conv2 = conv_bn(c_out, c_out, 3)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = (
            conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = self.shortcut(x)
        out = self.relu(self.conv1(x))
        out = self.conv2(out)
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    def __init__(self, c_in: int, width: int, stride: int) -> None:
        super().__init__()
        c_out = width * 4
        self.body = nn.Sequential(
            conv_bn(c_in, width, 1),
            nn.ReLU(),
            conv_bn(width, width, 3, stride),
            nn.ReLU(),
            conv_bn(width, c_out, 1),
        )
        self.down = conv_bn(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.down is None else self.down(x)
        return F.relu(torch.add(self.body(x), shortcut))


class ResNet(nn.Module):
    def __init__(
        self,
        bottleneck: bool,
        depths: tuple[int, ...],
        widths: tuple[int, ...],
        classes: int = 10,
        stem_pool: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn(3, widths[0]), nn.ReLU()]
        if stem_pool:
            layers.append(nn.MaxPool2d(3, 2, 1))
        c = widths[0]
        for stage, (depth, width) in enumerate(zip(depths, widths, strict=True)):
            for i in range(depth):
                stride = 2 if stage and not i else 1
                if bottleneck:
                    layers.append(Bottleneck(c, width, stride))
                    c = width * 4
                else:
                    layers.append(BasicBlock(c, width, stride))
                    c = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def resnet18(classes: int = 1000) -> ResNet:
    return ResNet(False, (2, 2, 2, 2), (64, 128, 256, 512), classes, stem_pool=True)


# -- MobileNetV2 / V3, EfficientNet -----------------------------------------------------------
class InvertedResidual(nn.Module):
    def __init__(
        self,
        c_in: int,
        c_out: int,
        stride: int,
        expand: int,
        k: int = 3,
        act: type[nn.Module] = nn.ReLU6,
        se: nn.Module | None = None,
    ) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [conv_bn(c_in, hidden, 1), act()]
        layers += [conv_bn(hidden, hidden, k, stride, groups=hidden), act()]
        if se is not None:
            layers.append(se)
        layers.append(conv_bn(hidden, c_out, 1))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x) if self.residual else self.block(x)


class SqueezeExcite(nn.Module):
    """MobileNetV3's SE: pool -> 1x1 conv -> ReLU -> 1x1 conv -> hardsigmoid, then scale."""

    def __init__(self, c: int, squeeze: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, c, 1)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.gate(self.fc2(F.relu(self.fc1(self.pool(x)))))
        return x * s


class LinearSE(nn.Module):
    """EfficientNet-style SE with linear layers on pooled features and a SiLU."""

    def __init__(self, c: int, squeeze: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(c, squeeze)
        self.fc2 = nn.Linear(squeeze, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, _, _ = x.shape
        s = x.mean((2, 3))
        s = torch.sigmoid(self.fc2(F.silu(self.fc1(s))))
        return x * s.view(b, c, 1, 1)


class MobileNetV2(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 2, 2), (6, 64, 1, 2)]
        layers: list[nn.Module] = [conv_bn(3, 32, 3, 2), nn.ReLU6(inplace=True)]
        c = 32
        for t, c_out, n, s in cfg:
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, s if i == 0 else 1, t))
                c = c_out
        layers += [conv_bn(c, 128, 1), nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(128, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(x.flatten(1))


class MobileNetV3(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 16, 3, 2), nn.Hardswish())
        self.blocks = nn.Sequential(
            InvertedResidual(16, 16, 2, 1, 3, nn.ReLU, SqueezeExcite(16, 8)),
            InvertedResidual(16, 24, 2, 4, 3, nn.ReLU),
            InvertedResidual(24, 24, 1, 3, 5, nn.Hardswish, SqueezeExcite(72, 24)),
            InvertedResidual(24, 40, 1, 6, 5, nn.Hardswish, SqueezeExcite(144, 40)),
        )
        self.head = nn.Sequential(conv_bn(40, 96, 1), nn.Hardswish(), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(96, 128),
            nn.Hardswish(inplace=True),
            nn.Dropout(0.2),
            nn.Linear(128, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.head(self.blocks(self.stem(x))))


class EfficientNet(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 16, 3, 2), nn.SiLU())
        self.blocks = nn.Sequential(
            InvertedResidual(16, 16, 1, 1, 3, nn.SiLU, LinearSE(16, 4)),
            InvertedResidual(16, 24, 2, 6, 3, nn.SiLU, LinearSE(96, 4)),
            InvertedResidual(24, 24, 1, 6, 5, nn.SiLU, LinearSE(144, 6)),
        )
        self.head = nn.Sequential(conv_bn(24, 64, 1), nn.SiLU())
        self.fc = nn.Linear(64, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.head(self.blocks(self.stem(x)))
        return self.fc(F.dropout(x.mean([-1, -2]), 0.2, self.training))


# -- ConvNeXt (channels-last LayerNorm and per-position Linear) -------------------------------
class ConvNeXtBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6)
        self.pwconv1 = nn.Linear(c, 4 * c)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * c, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


class ChannelsFirstLayerNorm(nn.Module):
    """LayerNorm over channels of an NCHW tensor, via NHWC."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class ConvNeXt(nn.Module):
    def __init__(self, classes: int = 10, dims: tuple[int, ...] = (16, 32)) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, dims[0], 4, 4), ChannelsFirstLayerNorm(dims[0]))
        stages: list[nn.Module] = []
        for i, d in enumerate(dims):
            if i:
                stages += [ChannelsFirstLayerNorm(dims[i - 1]), nn.Conv2d(dims[i - 1], d, 2, 2)]
            stages += [ConvNeXtBlock(d), ConvNeXtBlock(d)]
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.head(self.norm(x.mean([-2, -1])))


# -- U-Net ------------------------------------------------------------------------------------
class DoubleConv(nn.Sequential):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(
            conv_bn(c_in, c_out),
            nn.ReLU(inplace=True),
            conv_bn(c_out, c_out),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    def __init__(self, classes: int = 2) -> None:
        super().__init__()
        self.enc1, self.enc2 = DoubleConv(3, 8), DoubleConv(8, 16)
        self.bottom = DoubleConv(16, 32)
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.dec2, self.dec1 = DoubleConv(32 + 16, 16), DoubleConv(16 + 8, 8)
        self.out = nn.Conv2d(8, classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottom(nn.functional.max_pool2d(e2, kernel_size=2, stride=2))
        d2 = self.dec2(torch.cat([self.up(b), e2], dim=1))
        d1 = self.dec1(torch.cat((F.interpolate(d2, scale_factor=2.0, mode="nearest"), e1), 1))
        return self.out(d1)


# -- depthwise-separable, grouped, dilated --------------------------------------------------
class DepthwiseSeparable(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn(3, 16, 3, 2), nn.ReLU()]
        for c_in, c_out, s in ((16, 32, 1), (32, 64, 2), (64, 64, 1)):
            layers += [
                conv_bn(c_in, c_in, 3, s, groups=c_in),
                nn.ReLU(),
                conv_bn(c_in, c_out, 1),
                nn.ReLU(),
            ]
        layers += [
            nn.Conv2d(64, 64, 3, padding=2, dilation=2, groups=4),
            nn.ReLU(),
            nn.Conv2d(64, 128, 3, padding="same", groups=64, bias=False),  # multiplier 2
            nn.ReLU(),
        ]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(128, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean(dim=(2, 3)))


# -- Inception-like concat branches ----------------------------------------------------------
class InceptionBlock(nn.Module):
    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.b1 = nn.Conv2d(c_in, 8, 1)
        self.b3 = nn.Sequential(nn.Conv2d(c_in, 8, 1), nn.ReLU(), nn.Conv2d(8, 12, 3, padding=1))
        self.b5 = nn.Sequential(nn.Conv2d(c_in, 4, 1), nn.ReLU(), nn.Conv2d(4, 6, 5, padding=2))
        self.bp = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(c_in, 6, 1))
        self.norm = nn.GroupNorm(4, 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [self.b1(x), self.b3(x), self.b5(x), self.bp(x)]
        return F.relu(self.norm(torch.cat(branches, 1)))


class Inception(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1), nn.ReLU())
        self.block1 = InceptionBlock(16)
        self.pool = nn.AvgPool2d(3, 2, 1, ceil_mode=True)
        self.block2 = InceptionBlock(32)
        self.head = nn.Sequential(nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(32, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block2(self.pool(self.block1(self.stem(x)))))


# -- VGG: flatten -> Linear on a 4x4 map -----------------------------------------------------
class VGG(nn.Module):
    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 16, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(kernel_size=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(16 * 4 * 4, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


# -- functional forms, Tensor methods, all activations ---------------------------------------
class Functional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.c3 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(16, affine=False)
        self.fc = nn.Linear(16, 10, bias=False)
        self.bn1d = nn.BatchNorm1d(10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.gelu(self.c1(x))
        y = torch.tanh(x) + x.sigmoid() * F.hardtanh(x, 0.0, 6.0)
        y = F.relu6(self.c2(y)).relu() + F.hardswish(y) + F.hardsigmoid(y) + torch.relu(y)
        y = y.tanh().add(F.silu(y))
        y = F.avg_pool2d(self.c3(y), 3, 1, 1)
        y = self.bn(F.max_pool2d(y, 2, padding=0)).contiguous()
        z = F.adaptive_avg_pool2d(y, (1, 1))
        z = torch.flatten(z, start_dim=1) + y.amax(dim=(2, 3))
        return self.bn1d(self.fc(z.reshape(1, -1)))


# -- slices and Zero --------------------------------------------------------------------------
class SliceZero(nn.Module):
    """A DARTS-like reduction cell: one edge is Zero(C_out, 2), one a channel slice."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = conv_bn(3, 16)
        self.reduce = conv_bn(16, 24, 3, 2)
        self.zero = Zero(24, stride=2)
        self.keep = Zero()
        self.pool = nn.AvgPool2d(3, 2, 1, count_include_pad=False)
        self.classifier = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.stem(x))[:, 0:16]  # keeps every channel: folds away
        y = self.reduce(x) + self.zero(x)
        z = torch.cat([y, self.pool(x)[:, :8]], dim=1)  # a channel slice
        z = z + self.keep(z)
        return self.classifier(z.mean((2, 3)))


ZOO: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "resnet-basic": (lambda: ResNet(False, (1, 2, 1), (16, 32, 64)), (3, 32, 32)),
    "resnet-bottleneck": (
        lambda: ResNet(True, (1, 1, 1), (8, 16, 32), stem_pool=True),
        (1, 3, 32, 32),
    ),
    "mobilenet-v2": (MobileNetV2, (3, 32, 32)),
    "mobilenet-v3": (MobileNetV3, (3, 64, 64)),
    "efficientnet": (EfficientNet, (3, 32, 32)),
    "convnext": (ConvNeXt, (3, 32, 32)),
    "unet": (UNet, (3, 32, 32)),
    "depthwise-separable": (DepthwiseSeparable, (3, 32, 32)),
    "inception": (Inception, (3, 32, 32)),
    "vgg": (VGG, (3, 32, 32)),
    "functional": (Functional, (3, 16, 16)),
    "slice-zero": (SliceZero, (3, 16, 16)),
}
