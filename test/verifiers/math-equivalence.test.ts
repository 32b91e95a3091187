/**
 * Table-driven equivalence cases, one block per rule of shared/design/math-equivalence.md.
 * The expected verdicts are the policy's own examples plus hand-worked cases; near misses
 * (rounded decimals, swapped order, wrong bracket, extra solution) must be judged wrong.
 */
import { describe, expect, test } from "vitest";
import { isEquivalent } from "../../verifiers/math/index.ts";

type Case = [gold: string, answer: string, equal: boolean, reason?: string];

// 300 correct digits of π and 60 of √2: decimals never equal irrationals, however long (§3)
const PI_300 =
  "3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803482534211706798214808651328230664709384460955058223172535940812848111745028410270193852110555964462294895493038196442881097566593344612847564823378678316527120190914564856692346034861045432664821339360726024914127";
const SQRT2_60 = "1.414213562373095048801688724209698078569671875376948073176679";

const RULES: Record<string, Case[]> = {
  "§2 normalization": [
    ["20,\\!160", "20160", true], ["20,\\!160", "20{,}160", true], ["20,\\!160", "20\\,160", true],
    ["20160", "20,16", false], ["20160", "20,160", true], ["3\\frac{1}{4}", "3.25", true],
    ["3\\frac{1}{4}", "\\frac{13}{4}", true], ["3\\frac{1}{4}", "3 1/4", true], ["3\\frac{1}{4}", "\\frac{3}{4}", false],
    ["-\\frac{7}{3}", "-2\\frac{1}{3}", true], ["48 \\text{ cm}^2", "48", true], ["48 \\text{ cm}^2", "48\\,\\mathrm{cm}^2", true],
    ["48 \\text{ cm}^2", "48 square centimeters", true], ["48 \\text{ cm}^2", "4800 \\text{ mm}^2", false],
    ["\\frac{3}{4}", "\\dfrac{3}{4}", true], ["\\frac{3}{4}", "\\tfrac34", true], ["\\frac43", "\\frac{4}{3}", true],
    ["\\frac{9}{10}", "\\frac9{10}", true], ["\\frac{3}{2}", "\\frac123", true], ["\\frac{1}{6}", "\\frac123", false],
    ["\\sqrt{3}x", "\\sqrt3x", true], ["\\frac{\\sqrt2}{2}", "x\\frac{1}{2}", false], ["12", "\\text{12}", true],
    ["10\\pi", "10pi", true], ["2\\sqrt{3}", "2sqrt(3)", true], ["6", "2*3", true], ["6", "2 \\times 3", true],
    ["6", "2\\cdot 3", true], ["\\frac{1}{2}", "1/2", true], ["\\$32,\\!348", "32348", true], ["\\$32,\\!348", "\\$32,348", true],
    ["58,500", "58500", true], ["58,500", "58,\\!500", true], ["11,\\! 111,\\! 111,\\! 100", "11111111100", true],
    ["864 \\mbox{ inches}^2", "864", true], ["5.4 \\text{ cents}", "5.4", true], ["5.4 \\text{ cents}", "5.40", true],
    ["15\\mbox{ cm}^2", "15 cm^2", true], ["21", "21^{\\text{st}}", true], ["4", "4th", true],
    ["\\mathbf{7}", "7", true], ["7", "\\boldsymbol{7}", true], ["\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})", true],
    ["137 \\frac{1}{2}", "275/2", true], ["137 \\frac{1}{2}", "137.5", true], ["1\\frac{4}{5}", "\\frac95", true],
  ],
  "§2 degrees": [
    ["90^\\circ", "90", true], ["90^\\circ", "90^{\\circ}", true], ["90^\\circ", "90°", true], ["90^\\circ", "90 degrees", true],
    ["60^\\circ", "\\frac{\\pi}{3}", false], ["\\frac{270}7\\text{ degrees}", "\\frac{270}{7}", true], ["30^\\circ", "31^\\circ", false], ["30^\\circ", "30{}^\\circ", true], ["30^\\circ", "30\\textdegree", true],
  ],
  "§3 numbers": [
    ["\\frac{5}{8}", "0.625", true], ["\\frac{2}{3}", "0.667", false], ["\\frac{2}{3}", "0.6667", false], ["\\frac{2}{3}", "0.67", false],
    ["\\frac{3}{8}", "0.375", true], ["\\frac{2}{5}", "0.4", true], ["2.5", "2.50", true], ["\\frac{2}{3}", "0.\\overline{6}", true],
    ["\\frac{37}{30}", "1.2\\overline{3}", true], ["0.0025", "2.5\\times10^{-3}", true], ["0.0025", "2.5\\cdot 10^{-3}", true],
    ["0.0025", "2.5e-3", true], ["9007199254740993", "9007199254740992", false], ["1", "1 + 10^{-30}", false],
    ["\\sqrt2", "1.4142", false], ["\\pi", "3.1416", false], ["\\sqrt{2}", "1.4142135623730951", false],
    ["32", "2^{5}", true], ["120", "5!", true], ["15", "\\binom{6}{2}", true], ["4\\pi+4", "4(\\pi+1)", true],
    ["3\\sqrt5", "\\sqrt{45}", true], ["\\frac{\\sqrt{6}}{3}", "\\sqrt{\\frac{2}{3}}", true], ["\\frac{\\sqrt{6}}{3}", "\\frac{2}{\\sqrt6}", true],
    ["\\frac{\\sqrt{6}}{3}", "0.8165", false], [".0000672", "6.72\\times 10^{-5}", true], [".35625", "0.35625", true],
    ["\\frac{3\\sqrt{3}}{4}", "\\frac{3}{4}\\sqrt3", true], ["\\frac{3\\sqrt{3}}{4}", "\\frac{3}{4}\\sqrt2", false],
    ["11\\sqrt2", "\\sqrt{242}", true], ["2\\sqrt{113}", "\\sqrt{452}", true], ["2\\sqrt{113}", "\\sqrt{451}", false],
    ["\\frac{20000}{\\pi}", "20000/\\pi", true], ["\\frac{20000}{\\pi}", "6366.2", false], ["288 \\pi", "288\\pi", true],
    ["\\frac{5\\pi}{2}", "2.5\\pi", true], ["\\pi^2", "3.14159265358979\\pi", false], ["18+2\\pi", "2\\pi+18", true],
    ["-\\frac{\\pi}{6}", "-\\pi/6", true], ["-\\frac{\\pi}{6}", "\\frac{\\pi}{6}", false], ["\\frac{1}{2}", "\\sin\\frac{\\pi}{6}", true],
    ["-1", "\\cos\\pi", true], ["2", "\\sqrt[3]{8}", true], ["-2", "\\sqrt[3]{-8}", true], ["3", "\\log_2 8", true],
    ["\\frac{243}{3125}", "\\left(\\frac{3}{5}\\right)^5", true], ["\\frac{1}{8}", "2^{-3}", true], ["\\frac{1}{8}", "2^{3}", false],
  ],
  "§3 radicals, exactly": [
    ["\\frac{\\sqrt6}{3}", "\\frac{2}{\\sqrt6}", true, "equal_exact"], ["3\\sqrt5", "\\sqrt{45}", true, "equal_exact"],
    ["4.0", "\\sqrt2\\sqrt8", true, "equal_exact"], ["\\frac{\\sqrt2}{2}", "0.5\\sqrt2", true, "equal_exact"],
    ["5\\sqrt3", "\\sqrt{12}+\\sqrt{27}", true, "equal_exact"], ["5\\sqrt2", "\\sqrt{12}+\\sqrt{27}", false],
    ["3+2\\sqrt2", "(1+\\sqrt2)^2", true, "equal_exact"], ["\\sqrt2-1", "\\frac{1}{1+\\sqrt2}", true, "equal_numeric"],
    ["\\frac{3\\sqrt3}{2}", "1.5\\sqrt{3}", true, "equal_exact"], ["\\frac{3\\sqrt3}{2}", "1.5\\sqrt{2}", false],
    ["10007\\sqrt7", "\\sqrt{7\\cdot 10007^2}", true, "equal_exact"], ["\\sqrt{x}", "x^{1/2}", true, "equal_exact"],
  ],
  "§4 variables": [
    ["m^2-m-6", "(m-3)(m+2)", true], ["(m-3)(m+2)", "(m+2)(m-3)", true], ["\\frac{a+b}{4}", "a+\\frac{b}{4}", false],
    ["\\tan t", "\\frac{\\sin t}{\\cos t}", true], ["4y^3", "4y^2", false], ["p - q", "-q+p", true], ["p - q", "q - p", false],
    ["x^3+3x-6", "3x+x^3-6", true], ["6r^2-4r-24", "2(3r^2-2r-12)", true], ["6r^2-4r-24", "6r^2-4r+24", false],
    ["2k+2", "2(k+1)", true], ["2k+2", "2n+2", false], ["3R^2", "3r^2", false], ["\\cot x", "\\frac{\\cos x}{\\sin x}", true],
    ["\\cot x", "\\tan x", false], ["(a+5)(b+2)", "ab+2a+5b+10", true], ["\\frac{11+9a}{20}", "\\frac{11}{20}+\\frac{9a}{20}", true],
    ["x^5 - x^4 + x^3 - x^2 + x - 1", "(x-1)(x^4+x^2+1)", true], ["8n^2 + 4n + 1", "8n^2+4n", false], ["5r^5", "5r^{5}", true],
  ],
  "§5 named left sides": [
    ["40", "\\angle PQR = 40^\\circ", true], ["40^\\circ", "\\angle PQR = 40^\\circ", true], ["40", "m\\angle PQR = 40^\\circ", true],
    ["30", "m\\angle ABC=30", true], ["5", "AB = 5", true], ["12", "\\text{Area} = 12", true], ["12", "Area = 3 \\cdot 4", true],
    ["\\sqrt{2}", "PQ = \\sqrt{2}", true], ["40", "\\angle PQR = 50^\\circ", false], ["40", "40 = \\angle PQR", false, "unparseable"],
    ["40", "\\angle PQR = 40^\\circ = \\angle XYZ", false, "unparseable"], ["\\frac{2\\pi}{9}", "\\angle PQR = 40^\\circ", false],
    ["5", "AB = five", false, "unparseable"], ["x = 40", "\\angle PQR = 40", false], ["40", "\\angle PQR \\le 40", false, "unparseable"],
  ],
  "glued function names": [
    ["\\tan x", "\\tanx", true], ["\\sin x", "\\sinx", true], ["\\ln x", "\\lnx", true], ["\\cos 2x", "\\cos2x", true],
    ["\\sec x", "\\secx", true], ["\\sinh x", "\\sinhx", true], ["2\\sin x\\cos x", "2\\sinx\\cosx", true],
    ["\\frac{\\sin x}{\\cos x}", "\\tanx", true], ["\\tan x", "\\tany", false], ["\\sin x", "\\cosx", false], ["x", "\\lnx", false],
    ["\\sqrt{x}", "\\sqrtx", false, "unparseable"], ["\\frac{a}{b}", "\\fracab", false, "unparseable"],
  ],
  "units without \\text": [
    ["3.5", "3.5dollars", true], ["\\$3.50", "3.5dollars", true], ["5", "5cm", true], ["12", "12 inches", true], ["12", "12inches", true],
    ["40", "40 degrees", true], ["40^\\circ", "40degrees", true], ["48", "48cm^2", true], ["4\\text{ ft}", "4ft", true], ["90", "90 mph", true],
    ["5", "5mm", true], ["50", "5cm", false], ["5x", "5x", true], ["5", "5x", false], ["5", "5xyz", false, "unparseable"],
    ["3", "3cost", false, "unparseable"], ["2", "2 sinx", false, "unparseable"], ["2", "2sinx", false, "unparseable"], ["x^2", "x^2cm", false], ["3", "3in", false], ["12", "12secs", true], ["2", "2 sq units", true],
  ],
  "trig of degrees": [
    ["\\frac12", "\\sin 30^\\circ", true, "equal_exact"], ["\\frac12", "\\cos 60^\\circ", true, "equal_exact"],
    ["1", "\\tan 45^\\circ", true, "equal_exact"], ["\\frac{\\sqrt3}{2}", "\\sin 60^\\circ", true, "equal_exact"],
    ["\\frac{\\sqrt2}{2}", "\\cos 45^\\circ", true, "equal_exact"], ["\\frac{\\sqrt{6}-\\sqrt{2}}{4}", "\\sin 15^\\circ", true, "equal_exact"],
    ["2-\\sqrt3", "\\tan 15^\\circ", true, "equal_exact"], ["\\sqrt3", "\\tan 60^{\\circ}", true, "equal_exact"],
    ["-\\frac12", "\\cos 120^\\circ", true, "equal_exact"], ["\\frac12", "\\sin(150^\\circ)", true], ["\\frac12", "sin 30\u00b0", true],
    ["\\frac14", "\\sin 30^\\circ \\cos 60^\\circ", true], ["0.5", "\\sin{30^\\circ}", true], ["\\sin 30^\\circ", "\\frac{1}{2}", true],
    ["\\frac{1}{2}", "\\sin\\frac{\\pi}{6}", true, "equal_exact"], ["\\cos 10^\\circ", "\\sin 80^\\circ", true, "equal_numeric"],
    ["\\frac12", "\\sin 30", false], ["\\frac12", "\\sin 210^\\circ", false], ["\\frac{\\sqrt3}{2}", "\\sin 30^\\circ", false],
    ["30^\\circ", "\\sin 30^\\circ", false], ["\\frac{\\sqrt3}{2}", "0.866", false], ["\\cos 10^\\circ", "\\cos 10", false],
    ["1", "\\tan 90^\\circ", false], ["2", "\\sec 60^\\circ", true, "equal_exact"], ["\\frac12", "\\sin 30 degrees", true],
    ["\\frac12", "\\sin 390^\\circ", true, "equal_exact"], ["0", "\\sin(10^{400}\\pi)", true, "equal_exact"], ["\\sqrt6+\\sqrt2", "\\sec 75^\\circ", true], ["90", "90^\\circ \\text{ distance}", true],
  ],
  "§5 equations": [
    ["t=-4", "-4", true], ["t=-4", "t = -4", true], ["y = \\frac{1}{2}x - 1", "x - 2y - 2 = 0", true],
    ["y = \\frac{1}{2}x - 1", "y = 2x - 1", false], ["2x - y + 5z = 1", "-4x + 2y - 10z = -2", true],
    ["7", "a = 7 \\text{ or } a = -7", false], ["7", "k = 7", true], ["7", "BC = \\sqrt{49} = 7", true], ["7", "g(3) = 7", true],
    ["7", "\\angle Q = 7^\\circ", true], ["x=5", "5", true], ["x=5", "x=6", false], ["y = 2x + 3", "2x+3", true],
    ["y = -2x", "y=-2x", true], ["y = -2x", "2x + y = 0", true], ["5x - 7y + 11z + 4 = 0", "-5x+7y-11z-4=0", true],
    ["5x - 7y + 11z + 4 = 0", "5x - 7y + 11z = 4", false], ["x \\in [-2,7]", "[-2,7]", true], ["x \\in [-2,7]", "-2 \\le x \\le 7", true],
    ["[5,\\infty)", "x \\ge 5", true], ["[5,\\infty)", "5 \\le x", true], ["(-3, 2]", "-3 < x \\le 2", true],
    ["(-\\infty,-1) \\cup (2,\\infty)", "x < -1 \\text{ or } x > 2", true], ["5", "x \\ge 5", false], ["[5,\\infty)", "x > 5", false],
  ],
  "§6 collections": [
    ["4, -1", "-1, 4", true], ["4, -1", "\\{-1,4\\}", true], ["4, -1", "x=4, x=-1", true], ["4, -1", "4", false],
    ["4, -1", "4, -1, 0", false], ["(0,-3)", "(-3,0)", false], ["(0,-3)", "(0,-3)", true], ["[-1,5)", "[-1,5]", false],
    ["[-1,5)", "(-1,5)", false], ["(-\\infty,-1]\\cup[2,\\infty)", "[2,\\infty)\\cup(-\\infty,-1]", true],
    ["\\begin{pmatrix} 3 \\\\ -1 \\end{pmatrix}", "(3,-1)", true], ["\\begin{pmatrix} 3 \\\\ -1 \\end{pmatrix}", "\\begin{bmatrix}3\\\\-1\\end{bmatrix}", true],
    ["\\begin{pmatrix} 3 \\\\ -1 \\end{pmatrix}", "\\langle 3, -1\\rangle", true], ["\\begin{pmatrix} 3 \\\\ -1 \\end{pmatrix}", "(-1,3)", false],
    ["\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\frac12\\begin{pmatrix}2\\\\4\\end{pmatrix}", true],
    ["\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}", "\\begin{pmatrix} -\\frac13 \\\\ \\frac23 \\\\ \\frac53 \\end{pmatrix}", true],
    ["\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix} -1 & 0 \\\\ 0 & 1 \\end{pmatrix}", false],
    ["\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\left(\\begin{matrix} -1 & 0 \\\\ 0 & -1 \\end{matrix}\\right)", true],
    ["(1,8) \\setminus \\{3\\}", "(1,3) \\cup (3,8)", true], ["(-\\infty,\\infty)", "\\mathbb{R}", true], ["(2,\\infty)", "(2,+\\infty)", true],
    ["(2,\\infty)", "x>2", true], ["(2,\\infty)", "[2,\\infty)", false], ["(0,9) \\cup (9,36)", "(9,36)\\cup(0,9)", true],
    ["(0,9) \\cup (9,36)", "(0,36)", false], ["3, 5, 7", "7, 5, 3", true], ["3, 5, 7", "3, 5", false], ["(6,31,-1)", "(6, 31, -1)", true],
    ["(1,-16,-4,43)", "(1,-16,-4,-43)", false], ["(3,4]", "(3,4]", true], ["(3,4]", "(3,4)", false], ["-2,1", "1,-2", true],
    ["(-2,1)", "-2, 1", true], ["(-2,1)", "1, -2", false], ["\\left(\\frac{3}{5},\\frac{8}{3}\\right]", "(0.6, \\frac83]", true],
    ["\\left[ \\frac{\\pi^2}{8}, \\frac{5 \\pi^2}{4} \\right]", "[\\pi^2/8, 1.25\\pi^2]", true],
    ["\\{1\\pm\\sqrt{5},-2\\}", "-2, 1+\\sqrt5, 1-\\sqrt5", true], ["\\{1\\pm\\sqrt{5},-2\\}", "-2, 1+\\sqrt5", false],
  ],
  "§7 pm and complex": [
    ["2 \\pm \\sqrt{7}", "2+\\sqrt7, 2-\\sqrt7", true], ["2 \\pm \\sqrt{7}", "\\pm\\sqrt{7} + 2", true], ["2 \\pm \\sqrt7", "2+\\sqrt7", false],
    ["2 \\pm \\sqrt7", "\\sqrt7 \\pm 2", false], ["\\frac{-1 \\pm \\sqrt{3}}{2}", "\\frac{-1+\\sqrt3}{2}, \\frac{-1-\\sqrt3}{2}", true],
    ["3 - 4i", "-4i + 3", true], ["3 - 4i", "3 + 4i", false], ["\\frac{3-i}{2}", "\\frac32 - \\frac12 i", true],
    ["6 - 5i", "6-5i", true], ["-2 + 7i", "7i-2", true], ["1+274i", "1 + 274 i", true], ["1 \\pm \\sqrt{19}", "1 \\mp \\sqrt{19}", true],
    ["3 \\pm 2 \\sqrt{2}", "3+2\\sqrt2, 3-2\\sqrt2", true], ["i\\sqrt3", "\\sqrt{3}i", true], ["i\\sqrt3", "\\sqrt{-3}", true],
    ["2i", "\\sqrt{-4}", true], ["1+2i", "1+2j", false],
  ],
  "§8 text and bases": [
    ["\\text{North}", "north", true, "equal_text"], ["\\text{North}", "\\textbf{NORTH}", true], ["\\text{east}", "west", false],
    ["\\text{Evelyn}", "\\text{Evelyn}", true], ["\\text{Evelyn}", "Eve", false], ["\\text{(C)}", "C", true], ["\\text{(C)}", "(c)", true],
    ["\\text{(C)}", "\\textbf{(C)}", true], ["\\text{(C)}", "\\text{C}", true], ["\\text{(C)}", "D", false], ["\\text{even}", "odd", false],
    ["135_7", "135_{7}", true], ["135_7", "135", true], ["135_7", "75", false], ["135_7", "75_{10}", false], ["135_7", "153_7", false],
    ["2516_8", "2516_{8}", true], ["2516_8", "2516_9", false], ["\\text{ellipse}", "Ellipse", true], ["\\text{ellipse}", "circle", false],
  ],
  "§9 percent": [
    ["35\\%", "35", true], ["35\\%", "35 \\text{ percent}", true], ["35", "35\\%", true], ["35\\%", "0.35", false], ["35\\%", "\\frac{7}{20}", false],
  ],
  "§10 unicode": [
    ["-7", "\u22127", true], ["12", "\uff11\uff12", true], ["9", "3\u00b2", true], ["25", "2\u200b5", true], ["52", "\u202e52", true],
    ["25", "\u202e52", false], ["x+1", "\u0445+1", false], ["\\frac{1}{2}", "\u00bd", true], ["2\\sqrt{3}", "2\u221a3", true],
    ["6", "2\u00d73", true], ["\\pi", "\u03c0", true], ["10", "1O", false], ["11", "l1", false], ["-5", "\u20135", true],
  ],
  "§11 malformed and limits": [
    ["3", "\\frac{3}{}", false, "unparseable"], ["5", "\\sqrt{}", false, "unparseable"], ["5", "5-", false, "unparseable"],
    ["-4", "--4", false, "unparseable"], ["2", "\\frac{\\sqrt{2}}{\\sqrt{2}", false, "unparseable"],
    ["\\begin{bmatrix}1\\\\2\\end{bmatrix}", "\\beginbmatrix 1\\\\2\\endbmatrix", false, "unparseable"], ["7", "7 \\mboxmeters", false],
    ["\\frac{a}{b}", "\\fracab", false, "unparseable"], ["\\frac{\\sqrt2}{2}", "\\frac*sqrt(2)2", false, "unparseable"],
    ["\\frac{13}{17}", "\\frac1317", false], ["3^{3^{3^3}}", "3^{3^{3^{3}}}", true, "equal_structure"], ["3", "3^{3^{3^{3}}}", false],
    ["0", "10^{-500}", false], ["\\infty", "1e400", false], ["\\infty", "\\infty", true], ["1", "1/0", false], ["0", "0/0", false],
    ["1/0", "1/0", false], ["2", "\\def\\x{2}\\x", false, "unparseable"], ["5", "__proto__", false], ["1000", "1001!/1000!", false],
    ["3", "(1,2", false, "unparseable"], ["7", "7".repeat(1001), false, "too_long"], ["0", "\\infty - \\infty", false],
    ["10", "\\sum_{i=1}^{4} i", false, "unparseable"],
    ["5", "2\\pm*3", false, "unparseable"], ["\\pi", PI_300, false, "not_equal"], ["\\sqrt{2}", SQRT2_60, false, "not_equal"],
  ],
  "ASCII and Unicode relations": [
    ["[5,\\infty)", "x >= 5", true], ["[5,\\infty)", "x \u2265 5", true], ["(-\\infty,3)\\cup(3,\\infty)", "x \u2260 3", true],
    ["2\\pm\\sqrt3", "2 \u00b1 \u221a3", true], ["\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{vmatrix}1&2\\\\3&4\\end{vmatrix}", false],
    ["\\begin{pmatrix}1&2\\end{pmatrix}", "\\left[\\begin{matrix}1&2\\end{matrix}\\right]", true], ["5", "$5$.", true],
    ["3, 5, 7", "3, 5, and 7", true], ["3, 5, 7", "3,5 \\text{ and } 7", true], ["\\text{Paul and Sarah}", "paul and sarah", true],
    ["\\text{Paul and Sarah}", "Paul", false], ["\\$32,\\!348", "$32,348", true],
  ],
  "prefixed structures and combinatorics": [
    ["(-2,1)", "x=-2, y=1", true], ["(-2,1)", "(x,y)=(-2,1)", true], ["(-2,1)", "(x,y)=(1,-2)", false],
    ["\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\mathbf{v} = \\begin{pmatrix}1\\\\2\\end{pmatrix}", true], ["1,2", "S=\\{1,2\\}", true],
    ["(n+1)!", "(n+1)\\cdot n!", true], ["(n+1)!", "n!", false], ["\\frac{n(n-1)}{2}", "\\binom{n}{2}", true],
    ["\\frac{n(n+1)}{2}", "\\binom{n}{2}", false],
    ["a_{n+1}+1", "1+a_{n+1}", true], ["x_1", "x_{1}", true], ["x_1", "x_2", false], ["120", "5!=120", true],
    ["\\emptyset", "\\{\\}", true], ["\\emptyset", "\\varnothing", true], ["\\emptyset", "\\{0\\}", false],
    ["|2x|", "2|x|", true], ["x", "|x|", false], ["5", "\\lvert -5\\rvert", true], ["1,2", "\\left\\lbrace 1,2\\right\\rbrace", true],
    ["(x+1)^{300}", "(1+x)^{299}(x+1)", true, "equal_exact"], ["(1+i)^{400}", "(1-i)^{400}", true, "equal_exact"],
  ],
};

describe.each(Object.entries(RULES))("%s", (_rule, cases) => {
  test("has cases", () => expect(cases.length).toBeGreaterThan(0));
  test.each(cases)("gold %j vs %j → %s", (gold, answer, equal, reason) => {
    const got = isEquivalent(answer, gold);
    expect(got.equal).toBe(equal);
    if (reason) expect(got.reason).toBe(reason);
  });
});

test("the table holds at least 150 pairs", () => {
  expect(Object.values(RULES).flat().length).toBeGreaterThanOrEqual(150);
});
